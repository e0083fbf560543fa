/* hybrid.h — Firecracker's hybrid vsock, host side: connect to the VMM's uds_path, send
 * "CONNECT <port>\n", read "OK <hostport>\n" (FACTS §2.1). On failure the VMM just closes.
 * Returns a connected stream to the guest port; nothing else (no protocol, no logging). */
#pragma once
#include <stdint.h>

#include "../shared/err.h"

#define HYBRID_ACK_MAX 32            /* "OK 1073741824\n" fits; a longer line is refused */
#define HYBRID_ATTEMPT_MS 1000       /* wait for one OK; before the guest driver is up it just waits */
#define HYBRID_BACKOFF_MIN_MS 2
#define HYBRID_BACKOFF_MAX_MS 50

/* One attempt: -ECONNRESET when the VMM closes (nothing listening in the guest),
 * -ETIMEDOUT past deadline_ms, -EPROTO for a malformed answer. */
int hybrid_dial_once(const char *uds_path, unsigned port, int64_t deadline_ms, int *ret_fd, Err *e);

/* Retries with backoff (2 ms growing to 50 ms) until deadline_ms. abort_fd (or -1) is polled
 * between and during attempts: readable means give up (-EHOSTDOWN), e.g. a VMM pidfd. */
int hybrid_dial(const char *uds_path, unsigned port, int64_t deadline_ms, int abort_fd,
                int *ret_fd, Err *e);
