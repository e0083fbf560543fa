/* util.h — small fd, time, path and buffer helpers shared by host and guest.
 * All return -errno on failure. Nothing here logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"

int64_t now_ms(void); /* CLOCK_MONOTONIC */
int64_t now_us(void);
/* Milliseconds left until deadline (>= 0), or -1 for "no deadline" when deadline < 0. */
int deadline_left(int64_t deadline_ms);

int fd_nonblock(int fd, bool on);
/* Writes everything, waiting with poll() when the fd is non-blocking. */
int fd_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms);
/* Reads exactly len bytes; -EPIPE on EOF before len, -ETIMEDOUT past deadline (<0 = none). */
int fd_read_exact(int fd, void *buf, size_t len, int64_t deadline_ms);
/* Waits for POLLIN (or hang-up) until deadline; 1 ready, 0 timeout, -errno. */
int fd_wait_readable(int fd, int64_t deadline_ms);

int unix_connect(const char *path, int *ret_fd);             /* blocking, CLOEXEC */
int unix_listen(const char *path, int backlog, int *ret_fd); /* unlinks a stale path first */

/* Firecracker's instance id rule, for `--id` of firecracker and of its jailer:
 * 1 to INSTANCE_ID_MAX characters of [A-Za-z0-9-]. */
#define INSTANCE_ID_MAX 64
bool instance_id_valid(const char *id);

int mkdir_p(const char *path, mode_t mode);
int rm_rf(const char *path); /* removes a tree; ENOENT is success; never crosses mounts */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len); /* NUL-terminated */
int write_file(const char *path, const char *data, size_t len, mode_t mode);

/* A growable byte buffer with a hard cap: appends beyond cap are dropped and counted. */
typedef struct Buf {
        uint8_t *data;
        size_t len, alloc, cap;
        size_t dropped;
} Buf;
void buf_init(Buf *b, size_t cap);
int buf_append(Buf *b, const void *p, size_t n); /* -ENOMEM only; overflow sets dropped */
void buf_free(Buf *b);
