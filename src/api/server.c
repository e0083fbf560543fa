/* server.c — the HTTP transport: one libmicrohttpd daemon per listener, a thread per
 * connection (a slow exec blocks only its own client), bounded bodies, bearer-token check
 * for listeners that need it, one log line per request (with the peer's pid/uid/gid on a
 * Unix socket). Must not know any route or JSON field: requests go to api_dispatch() whole. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api-internal.h"
#include "listen.h"
#include "shared/log.h"
#include "shared/util.h"
#include "status.h"

struct Listener {
        Api *api;
        char addr[LISTEN_ADDR_TEXT_MAX];
        char *unix_path; /* removed on stop, if it is still our socket */
        dev_t dev;
        ino_t ino;
        bool need_token;
        bool is_unix;
        struct MHD_Daemon *daemon; /* owns the listening fd until quiesced */
};

typedef struct ReqCtx {
        int64_t start_us;
        Buf body;
        unsigned refuse; /* 0, or 401/413 decided before the body was read */
        size_t received;
        unsigned status;
        char method[16];
        char path[160]; /* for the log line only: printable ASCII, truncated */
        char peer[64];  /* " peer pid=.. uid=.. gid=.." on a Unix socket, else "" */
} ReqCtx;

static void copy_printable(char *dst, size_t size, const char *src)
{
        size_t i = 0;
        for (; src && src[i] && i + 1 < size; i++)
                dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
        dst[i] = 0;
}

static enum MHD_Result send_response(struct MHD_Connection *c, ReqCtx *rc, Response *r)
{
        struct MHD_Response *mr;
        if (r->body)
                mr = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
        else
                mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!mr) {
                response_free(r);
                return MHD_NO;
        }
        r->body = NULL; /* MHD frees it */
        if (r->content_type)
                MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
        if (r->location[0])
                MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, r->location);
        if (r->allow[0])
                MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
        if (r->www_authenticate)
                MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        rc->status = r->status;
        enum MHD_Result ret = MHD_queue_response(c, r->status, mr);
        MHD_destroy_response(mr);
        return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, ReqCtx *rc, unsigned status,
                                  const char *code, const char *msg)
{
        Response r = {0};
        response_error(&r, status, code, "%s", msg);
        r.www_authenticate = status == 401;
        return send_response(c, rc, &r);
}

/* Compares without an early exit: the time taken depends on the token's length only,
 * never on how much of it matched. */
static bool token_equal(const char *given, const char *token)
{
        size_t lg = strlen(given), lt = strlen(token);
        unsigned char diff = lg != lt;
        for (size_t i = 0; i < lt; i++)
                diff |= (unsigned char)((i < lg ? given[i] : 0) ^ token[i]);
        return diff == 0;
}

static bool authorized(Listener *l, struct MHD_Connection *c)
{
        if (!l->need_token)
                return true;
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h) > API_MAX_TOKEN + 64)
                return false;
        h += 7;
        while (*h == ' ')
                h++;
        return token_equal(h, l->api->token);
}

/* Unix sockets: who is asking (SO_PEERCRED of the connection), for the request's log line. */
static void peer_credentials(const Listener *l, struct MHD_Connection *c, ReqCtx *rc)
{
        const union MHD_ConnectionInfo *ci =
                l->is_unix ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return;
        snprintf(rc->peer, sizeof(rc->peer), " peer pid=%d uid=%u gid=%u", (int)cred.pid,
                 (unsigned)cred.uid, (unsigned)cred.gid);
}

/* A body over the limit is still read (and dropped) up to this much in all, so that a
 * client that sends before it reads gets its 413 instead of a reset connection. */
static size_t drain_limit(const Listener *l) { return 2 * l->api->max_body_bytes; }

static bool expects_continue(struct MHD_Connection *c)
{
        const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        return x && strcasecmp(x, "100-continue") == 0;
}

/* The two answers given without routing: 401 and 413. */
static enum MHD_Result send_refusal(Listener *l, struct MHD_Connection *c, ReqCtx *rc)
{
        if (rc->refuse == 401)
                return send_error(c, rc, 401, "unauthorized",
                                  "missing or wrong bearer token (Authorization: Bearer <token>)");
        char msg[128];
        snprintf(msg, sizeof(msg), "request body is larger than %zu bytes",
                 l->api->max_body_bytes);
        return send_error(c, rc, 413, "body_too_large", msg);
}

/* First call for a request: headers are in. A bad token or a Content-Length over the
 * limit decides the answer now; it is sent now when the client waits for "100 Continue"
 * or announces more than we drain (MHD then closes the connection), else after the body. */
static enum MHD_Result request_begin(Listener *l, struct MHD_Connection *c, const char *url,
                                     const char *method, void **con_cls)
{
        ReqCtx *rc = calloc(1, sizeof(*rc));
        if (!rc)
                return MHD_NO;
        rc->start_us = now_us();
        buf_init(&rc->body, l->api->max_body_bytes);
        copy_printable(rc->method, sizeof(rc->method), method);
        copy_printable(rc->path, sizeof(rc->path), url);
        peer_credentials(l, c, rc);
        *con_cls = rc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        if (!authorized(l, c))
                rc->refuse = 401;
        else if (n > l->api->max_body_bytes)
                rc->refuse = 413;
        bool now = expects_continue(c) || n > (rc->refuse == 401 ? l->api->max_body_bytes
                                                                  : drain_limit(l));
        if (rc->refuse && now)
                return send_refusal(l, c, rc);
        return MHD_YES;
}

/* A chunk of body. Past the limit (or once refused) it is dropped, and past the drain
 * limit the connection is cut (chunked bodies have no Content-Length to refuse early). */
static enum MHD_Result request_body(Listener *l, ReqCtx *rc, const char *data, size_t n)
{
        rc->received += n;
        if (rc->received > drain_limit(l) ||
            (rc->refuse == 401 && rc->received > l->api->max_body_bytes))
                return MHD_NO;
        if (rc->refuse)
                return MHD_YES;
        if (buf_append(&rc->body, data, n) < 0)
                return MHD_NO;
        if (rc->body.dropped) {
                rc->refuse = 413;
                buf_free(&rc->body);
        }
        return MHD_YES;
}

static enum MHD_Result request_end(Listener *l, struct MHD_Connection *c, ReqCtx *rc,
                                   const char *url, const char *method)
{
        if (rc->refuse)
                return send_refusal(l, c, rc);
        Response r = {0};
        api_dispatch(l->api, method, url, (const char *)rc->body.data, rc->body.len, &r);
        buf_free(&rc->body);
        return send_response(c, rc, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        Listener *l = cls;
        ReqCtx *rc = *con_cls;
        if (!rc)
                return request_begin(l, c, url, method, con_cls);
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                return request_body(l, rc, upload_data, n);
        }
        return request_end(l, c, rc, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        Listener *l = cls;
        ReqCtx *rc = *con_cls;
        if (!rc)
                return;
        int64_t us = now_us() - rc->start_us;
        if (rc->status) {
                api_count_status(l->api, rc->status);
                log_info("%s %s %u %lld.%03lldms%s", rc->method, rc->path, rc->status,
                         (long long)(us / 1000), (long long)(us % 1000), rc->peer);
        } else {
                log_debug("%s %s: connection ended before a response (%d)", rc->method,
                          rc->path, (int)toe);
        }
        buf_free(&rc->body);
        free(rc);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = 0;
        log_debug("http: %s", msg);
}

static int listener_start(Listener *l, int fd, Err *e)
{
        Api *api = l->api;
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
        /* the logger goes first, or MHD prints what comes before it on its own */
        l->daemon = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
                MHD_OPTION_CONNECTION_LIMIT, api->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                api->idle_timeout_s, MHD_OPTION_END);
        if (!l->daemon)
                return err_set(e, EIO, "cannot start the HTTP server on %s", l->addr);
        return 0;
}

/* Removes the socket file only if it is the one we created (not a successor's). */
static void listener_unlink(Listener *l)
{
        struct stat st;
        if (l->unix_path && lstat(l->unix_path, &st) == 0 && st.st_dev == l->dev &&
            st.st_ino == l->ino)
                unlink(l->unix_path);
        free(l->unix_path);
        l->unix_path = NULL;
}

void listener_free(Listener *l)
{
        if (!l)
                return;
        if (l->daemon)
                MHD_stop_daemon(l->daemon);
        listener_unlink(l);
        free(l);
}

static int api_listen_impl(Api *api, const char *text, bool force_token, Err *e)
{
        ListenAddr a;
        int r = listen_parse(text, &a, e);
        if (r < 0)
                return r;
        bool local = listen_is_local(&a);
        bool need_token = force_token || !local || (!a.is_unix && api->token_on_loopback);
        if (need_token && !api->token)
                return err_set(e, EACCES,
                               "listening on %s (%s) needs a bearer token (--token-file FILE)",
                               text, local ? "TCP" : "not loopback");
        a.mode = api->socket_mode;
        a.gid = api->socket_gid;
        Listener **v = realloc(api->listeners, (api->n_listeners + 1) * sizeof(*v));
        if (!v)
                return err_set(e, ENOMEM, "out of memory");
        api->listeners = v;
        Listener *l = calloc(1, sizeof(*l));
        if (!l)
                return err_set(e, ENOMEM, "out of memory");
        *l = (Listener){.api = api, .need_token = need_token, .is_unix = a.is_unix};
        int fd = -1;
        if (a.is_unix && !(l->unix_path = strdup(a.path)))
                r = err_set(e, ENOMEM, "out of memory");
        if (r >= 0)
                r = listen_open(&a, 128, &fd, l->addr, &l->dev, &l->ino, e);
        if (r >= 0)
                r = listener_start(l, fd, e);
        if (r < 0) {
                if (fd >= 0 && !l->daemon)
                        close(fd);
                listener_free(l);
                return r;
        }
        api->listeners[api->n_listeners++] = l;
        log_info("listening on %s%s", l->addr, need_token ? " (bearer token required)" : "");
        return 0;
}

int api_listen(Api *api, const char *addr, Err *e) { return api_listen_impl(api, addr, false, e); }

int api_listen_with_token(Api *api, const char *addr, Err *e)
{
        return api_listen_impl(api, addr, true, e);
}

const char *api_listener_address(Api *api, size_t i)
{
        return i < api->n_listeners ? api->listeners[i]->addr : NULL;
}

void api_quiesce(Api *api)
{
        for (size_t i = 0; api && i < api->n_listeners; i++) {
                Listener *l = api->listeners[i];
                MHD_socket fd = l->daemon ? MHD_quiesce_daemon(l->daemon) : MHD_INVALID_SOCKET;
                if (fd != MHD_INVALID_SOCKET)
                        close(fd);
                listener_unlink(l);
        }
}
