/* api.h — emberd's public HTTP/JSON API (DESIGN.md §3.1): listeners, routing, handlers.
 * The daemon creates one Api over a Manager and adds listeners; everything a client can
 * reach goes through here. Must not know how sandboxes are run (that is the manager). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "response.h"
#include "sandbox/manager.h"
#include "sandbox/settings.h"
#include "shared/err.h"

#define API_DEFAULT_MAX_BODY (8u * 1024 * 1024)
/* per listener; one thread each. Hundreds of idle or slow clients must not lock the others
 * out (tests/integration/test_faults.py); emberd raises its fd limit to match (main.c). */
#define API_DEFAULT_MAX_CONNECTIONS 2048u
#define API_DEFAULT_IDLE_TIMEOUT_S 60u   /* idle keep-alive / stalled client */
#define API_MAX_TOKEN 4096u

typedef struct Api Api;

typedef struct ApiOptions {
        const char *token;        /* bearer token for non-loopback TCP listeners (copied) */
        bool token_on_loopback;   /* loopback TCP listeners demand the token too */
        unsigned socket_mode;     /* of unix: listeners; 0 = 0660 */
        const char *socket_group; /* of unix: listeners, a name or a gid; NULL = unchanged */
        size_t max_body_bytes;    /* 0 = API_DEFAULT_MAX_BODY */
        unsigned max_connections; /* 0 = API_DEFAULT_MAX_CONNECTIONS */
        unsigned idle_timeout_s;  /* 0 = API_DEFAULT_IDLE_TIMEOUT_S */
        const char *version;      /* for /healthz; NULL = the build's version */
} ApiOptions;

/* m and s must outlive the Api. */
int api_new(Manager *m, const Settings *s, const ApiOptions *o, Api **ret, Err *e);
/* Starts serving on "unix:/path", "127.0.0.1:8080", "[::1]:8080" (port 0 = any) and logs
 * "listening on <addr>" with the bound port. A non-loopback TCP address needs a token, and
 * so does a loopback one with token_on_loopback. Unix sockets get socket_mode and
 * socket_group before they accept; each request on them logs the peer's pid, uid and gid. */
int api_listen(Api *api, const char *addr, Err *e);
/* Like api_listen, but demands the bearer token whatever the address (tests, paranoia). */
int api_listen_with_token(Api *api, const char *addr, Err *e);
/* The address of listener i as bound ("127.0.0.1:41234", "unix:/x"), or NULL. */
const char *api_listener_address(Api *api, size_t i);
/* Stops accepting new connections on every listener (in-flight requests go on). */
void api_quiesce(Api *api);
/* Stops every listener (waits for in-flight requests) and removes its Unix socket. */
void api_free(Api *api);

/* Routes one request and fills resp (always: errors become JSON error bodies). Used by the
 * HTTP server, and directly by unit tests. */
void api_dispatch(Api *api, const char *method, const char *path, const char *body,
                  size_t body_len, Response *resp);
