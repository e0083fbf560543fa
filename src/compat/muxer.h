/* muxer.h — the host side of Firecracker's hybrid vsock (FACTS §2, unix/muxer.rs): accepts
 * on the uds_path listener, reads "CONNECT <port>\n", asks the engine for a stream to that
 * guest port, answers "OK <hostport>\n" and relays bytes both ways with bounded buffers and
 * half-close. Any failure closes the Unix connection without a word, as Firecracker does.
 * Driven by the caller's poll loop; borrows the listener (never closes or unlinks it). */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat-limits.h"

/* Returns a connected non-blocking stream to guest port `port` (ownership passes), or -errno. */
typedef int (*MuxerOpenPort)(void *ctx, uint32_t port, int *ret_fd);

typedef struct Muxer Muxer;

/* Polled slots: the listener plus two per connection. */
#define MUXER_MAX_POLLFDS (1 + 2 * COMPAT_VSOCK_MAX_CONNECTIONS)

int muxer_new(int listen_fd, Muxer **ret);
/* NULL opener = the guest is not running: every new connection is closed at once. */
void muxer_set_opener(Muxer *m, MuxerOpenPort open_port, void *ctx);
/* Fills pfds (max >= MUXER_MAX_POLLFDS) and lowers *deadline_ms (CLOCK_MONOTONIC ms, <0 =
 * none) to the earliest CONNECT deadline. Returns the number of slots used. */
size_t muxer_pollfds(Muxer *m, struct pollfd *pfds, size_t max, int64_t *deadline_ms);
/* Handles what poll() reported for the slots muxer_pollfds() filled, then expired handshakes. */
void muxer_dispatch(Muxer *m, const struct pollfd *pfds, size_t n);
unsigned muxer_count(const Muxer *m);
uint64_t muxer_total(const Muxer *m); /* connections relayed since start */
/* Closes every connection (not the listener). NULL-safe. */
void muxer_free(Muxer *m);

/* "CONNECT <port>\n" as Firecracker reads it: whitespace-separated words, the keyword
 * case-insensitive, a decimal u32; trailing words ignored. -EINVAL when malformed. */
int muxer_parse_connect(const char *line, size_t len, uint32_t *ret_port);
/* The next host port after `last`, round-robin in [2^30, 2^31), skipping ports in use. */
uint32_t muxer_next_port(uint32_t last, bool (*in_use)(void *ctx, uint32_t port), void *ctx);
