/* api.h — the HTTP transport of the Firecracker API on --api-sock: libmicrohttpd without its
 * own listener, fed by our accept() so micro-http's limits hold (the 11th connection gets the
 * canned 503, a body over 51200 bytes gets micro-http's own 400). Requests are served one at a
 * time from the caller's poll loop. No routing and no VM logic here; never unlinks the socket. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/err.h"
#include "reply.h"

typedef void (*ApiHandler)(void *ctx, const char *method, const char *url, const char *body,
                           size_t len, bool has_body, Reply *ret);

typedef struct Api Api;

#define API_POLLFDS 2

/* Binds and listens on path; fails (EADDRINUSE) when the path exists, like Firecracker. */
int api_bind(const char *path, int *ret_fd);
int api_new(int listen_fd, ApiHandler handler, void *ctx, Api **ret, Err *e);
/* Fills API_POLLFDS slots; lowers *deadline_ms to libmicrohttpd's next timeout. */
size_t api_pollfds(Api *a, struct pollfd *pfds, size_t max, int64_t *deadline_ms);
void api_dispatch(Api *a, const struct pollfd *pfds, size_t n);
/* Closes every connection; the listener stays the caller's. NULL-safe. */
void api_free(Api *a);
