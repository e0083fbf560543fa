/* live.h — helpers of the tests that run the real ember-vmm: a private temp dir, spawning
 * and reaping the binary, and a raw HTTP/1.1 client over the API's Unix socket. Every wait is
 * bounded by a deadline (a failure, never a timing assertion); teardown kills what is left. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LIVE_WAIT_MS 20000

typedef struct Live {
        char dir[64];
        char api[128];
        pid_t pid;
        int pidfd;
} Live;

typedef struct HttpResp {
        int status;
        char head[4096];
        char body[65536];
        size_t body_len;
} HttpResp;

int live_setup(Live *l, const char *name);
/* Runs $EMBER_VMM --api-sock <dir>/api.sock <args...>; stdout+stderr go to <dir>/out. */
int live_spawn(Live *l, const char *const *args);
int live_wait_socket(const Live *l);
/* Exit status as a shell reports it (128+N for signal N); -ETIMEDOUT past the deadline. */
int live_wait_exit(Live *l, int timeout_ms);
/* Runs the binary with args to completion; returns its status and its output in out. */
int live_run(const char *const *args, char *out, size_t out_size);
void live_teardown(Live *l);
/* The file <dir>/out (the VMM's log and the guest console), NUL-terminated, truncated. */
void live_output(const Live *l, char *buf, size_t size);

int live_connect(const char *path);
/* One request on fd (keep-alive); body NULL = no Content-Length header. */
int live_http_on(int fd, const char *method, const char *path, const char *body, HttpResp *r);
/* One request on a fresh connection to l->api. */
int live_http(const Live *l, const char *method, const char *path, const char *body, HttpResp *r);
/* Reads until EOF or the buffer is full; returns the count, or -errno. */
int live_read_all(int fd, char *buf, size_t size);
bool live_header_has(const HttpResp *r, const char *line);
