/* api.c — see api.h. libmicrohttpd runs in external-epoll mode (MHD_run from our loop), so
 * the handler runs in the loop's thread. Responses carry "Server: Firecracker API" and, with
 * a body, "Content-Type: application/json", as micro-http's do. */
#include "api.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"
#include "compat-limits.h"

#define ACCEPT_BATCH 16
#define ACCEPT_PAUSE_MS 100
#define LISTEN_BACKLOG 128

/* micro-http's SERVER_FULL_ERROR_MESSAGE, byte for byte (server.rs) */
static const char server_full[] = "HTTP/1.1 503\r\n"
                                  "Server: Firecracker API\r\n"
                                  "Connection: close\r\n"
                                  "Content-Length: 40\r\n\r\n"
                                  "{ \"error\": \"Too many open connections\" }";

struct Api {
        int listen_fd;
        struct MHD_Daemon *d;
        int epoll_fd;
        unsigned nconn;
        int64_t accept_paused_until;
        ApiHandler handler;
        void *ctx;
};

typedef struct Req {
        char *body;        /* COMPAT_API_MAX_PAYLOAD + 1 bytes */
        uint64_t received; /* all body bytes seen, kept or not */
        uint64_t content_length;
        bool has_content_length;
        bool responded;
} Req;

int api_bind(const char *path, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, Reply *r)
{
        size_t len = r->body ? strlen(r->body) : 0;
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, r->body ? r->body : (char *)"",
                                                MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret = MHD_NO;
        if (resp) {
                MHD_add_response_header(resp, "Server", "Firecracker API");
                if (r->body)
                        MHD_add_response_header(resp, "Content-Type", "application/json");
                if (r->deprecation)
                        MHD_add_response_header(resp, "Deprecation", "true");
                if (r->close)
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
                ret = MHD_queue_response(c, (unsigned)r->status, resp);
                MHD_destroy_response(resp);
        }
        reply_free(r);
        return ret;
}

static enum MHD_Result too_big(struct MHD_Connection *c, Req *rq, uint64_t size)
{
        char msg[256];
        Reply r = {0};
        snprintf(msg, sizeof(msg), "Request payload with size %llu is larger than the limit of %u "
                 "allowed by server.", (unsigned long long)size, COMPAT_API_MAX_PAYLOAD);
        reply_http_error(&r, msg);
        rq->responded = true;
        return send_reply(c, &r);
}

static enum MHD_Result begin_request(struct MHD_Connection *c, void **con_cls)
{
        Req *rq = calloc(1, sizeof(*rq));
        if (!rq)
                return MHD_NO;
        *con_cls = rq; /* freed by on_completed, whatever happens next */
        if (!(rq->body = malloc(COMPAT_API_MAX_PAYLOAD + 1)))
                return MHD_NO;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
                rq->has_content_length = true;
                rq->content_length = strtoull(cl, NULL, 10);
                /* micro-http refuses on the header alone, before reading the body */
                if (rq->content_length > COMPAT_API_MAX_PAYLOAD)
                        return too_big(c, rq, rq->content_length);
        }
        return MHD_YES;
}

/* Keeps at most the limit; counts everything, so an oversized chunked body is refused. */
static void take_body(Req *rq, const char *data, size_t size)
{
        if (rq->received + size <= COMPAT_API_MAX_PAYLOAD)
                memcpy(rq->body + rq->received, data, size);
        rq->received += size;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
        Api *a = cls;
        Req *rq = *con_cls;
        if (!rq)
                return begin_request(c, con_cls);
        if (rq->responded) {
                *size = 0;
                return MHD_YES;
        }
        if (*size) {
                take_body(rq, data, *size);
                *size = 0;
                return MHD_YES;
        }
        if (rq->received > COMPAT_API_MAX_PAYLOAD)
                return too_big(c, rq, rq->received);
        bool has_body = rq->has_content_length ? rq->content_length > 0 : rq->received > 0;
        rq->body[rq->received] = 0;
        Reply r = {0};
        a->handler(a->ctx, method, url, rq->body, (size_t)rq->received, has_body, &r);
        rq->responded = true;
        return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        Req *rq = *con_cls;
        if (rq)
                free(rq->body);
        free(rq);
        *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
        Api *a = cls;
        if (toe == MHD_CONNECTION_NOTIFY_CLOSED && a->nconn > 0)
                a->nconn--;
}

int api_new(int listen_fd, ApiHandler handler, void *ctx, Api **ret, Err *e)
{
        Api *a = calloc(1, sizeof(*a));
        if (!a)
                return err_set(e, ENOMEM, "out of memory");
        *a = (Api){.listen_fd = listen_fd, .handler = handler, .ctx = ctx};
        a->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
                                        MHD_USE_SUPPRESS_DATE_NO_CLOCK,
                                0, NULL, NULL, on_request, a, MHD_OPTION_NOTIFY_COMPLETED,
                                on_completed, a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
                                MHD_OPTION_END);
        const union MHD_DaemonInfo *info =
                a->d ? MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
        if (!info) {
                api_free(a);
                return err_set(e, EIO, "cannot start the HTTP server (libmicrohttpd)");
        }
        a->epoll_fd = info->epoll_fd;
        *ret = a;
        return 0;
}

size_t api_pollfds(Api *a, struct pollfd *pfds, size_t max, int64_t *deadline_ms)
{
        if (max < API_POLLFDS)
                return 0;
        bool paused = a->accept_paused_until > now_ms();
        pfds[0] = (struct pollfd){.fd = paused ? -1 : a->listen_fd, .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = a->epoll_fd, .events = POLLIN};
        int64_t when = paused ? a->accept_paused_until : -1;
        MHD_UNSIGNED_LONG_LONG t;
        if (MHD_get_timeout(a->d, &t) == MHD_YES) {
                int64_t mhd = now_ms() + (int64_t)MIN(t, (MHD_UNSIGNED_LONG_LONG)INT32_MAX);
                when = when < 0 ? mhd : MIN(when, mhd);
        }
        if (when >= 0 && (*deadline_ms < 0 || when < *deadline_ms))
                *deadline_ms = when;
        return API_POLLFDS;
}

static void accept_new(Api *a)
{
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                struct sockaddr_un sa;
                socklen_t len = sizeof(sa);
                int fd = accept4(a->listen_fd, (struct sockaddr *)&sa, &len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                a->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
                        return;
                }
                if (a->nconn >= COMPAT_API_MAX_CONNECTIONS) {
                        ssize_t _unused_ w = send(fd, server_full, sizeof(server_full) - 1,
                                                  MSG_NOSIGNAL | MSG_DONTWAIT);
                        close(fd);
                        continue;
                }
                /* MHD closes fd itself when it cannot take it */
                if (MHD_add_connection(a->d, fd, (struct sockaddr *)&sa, len) == MHD_YES)
                        a->nconn++;
        }
}

void api_dispatch(Api *a, const struct pollfd *pfds, size_t n)
{
        if (n >= 1 && (pfds[0].revents & POLLIN))
                accept_new(a);
        MHD_run(a->d);
}

void api_free(Api *a)
{
        if (!a)
                return;
        if (a->d)
                MHD_stop_daemon(a->d);
        free(a);
}
