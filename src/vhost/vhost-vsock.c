/* vhost-vsock.c — the public object and its thread: one epoll loop serving the
 * vhost-user front-end, the kick eventfds, the hybrid listener and every host
 * connection, then running the rings and the deadlines. Only this thread touches the
 * backend's state once started; _free() stops it through an eventfd, never by signal. */
#include "vhost-vsock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/un.h>

#include "shared/log.h"
#include "shared/util.h"
#include "vhost-internal.h"
#include "vhost-fd.h"

#define VHOST_MAX_EVENTS 64
#define VHOST_WARNS_PER_SEC 10u

int vhost_epoll_add(VhostVsock *v, int fd, uint32_t events, EvSrc *s)
{
        struct epoll_event ev = {.events = events, .data.ptr = s};
        return epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void vhost_epoll_del(VhostVsock *v, int fd)
{
        (void)epoll_ctl(v->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void vhost_warn(VhostVsock *v, const char *fmt, ...)
{
        int64_t now = now_ms();
        if (now - v->warn_window >= 1000) {
                if (v->warn_count > VHOST_WARNS_PER_SEC)
                        log_warn("vhost-vsock: %u more warnings suppressed",
                                 v->warn_count - VHOST_WARNS_PER_SEC);
                v->warn_window = now;
                v->warn_count = 0;
        }
        if (v->warn_count++ >= VHOST_WARNS_PER_SEC)
                return;
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_warn("vhost-vsock: %s", buf);
}

static void vhost_on_stop(VhostVsock *v, EvSrc *s, uint32_t events)
{
        v->stop = true;
}

static void vhost_round(VhostVsock *v)
{
        struct epoll_event evs[VHOST_MAX_EVENTS];
        int timeout = v->more ? 0 : mux_timeout_ms(&v->mux);
        int n = epoll_wait(v->epfd, evs, VHOST_MAX_EVENTS, timeout);
        for (int i = 0; i < n && !v->stop; i++) {
                EvSrc *s = evs[i].data.ptr;
                s->fn(v, s, evs[i].events);
        }
        if (v->stop)
                return;
        mux_timers(v);
        v->more = vsock_dev_run(v);
        mux_reap(&v->mux); /* no event of this round can point at a killed one now */
}

static void *vhost_thread(void *arg)
{
        VhostVsock *v = arg;
        while (!v->stop)
                vhost_round(v);
        return NULL;
}

static int vhost_check_config(const VhostVsockConfig *c, Err *e)
{
        if (!c || !c->vhost_socket || !c->uds_path)
                return err_set(e, EINVAL, "vhost-vsock: vhost_socket and uds_path are required");
        if (c->guest_cid < 3 || c->guest_cid > 0xFFFFFFFEull)
                return err_set(e, EINVAL, "guest_cid %llu is out of range (3..4294967294)",
                               (unsigned long long)c->guest_cid);
        /* guest-initiated connections dial <uds_path>_<port>: leave room for 11 bytes */
        if (strlen(c->uds_path) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return err_set(e, ENAMETOOLONG, "vsock uds_path '%s' is too long", c->uds_path);
        return 0;
}

static int vhost_setup(VhostVsock *v, const VhostVsockConfig *c, int uds_fd, Err *e)
{
        int r = mux_listen(v, c->uds_path, uds_fd, e); /* first: it owns uds_fd from here */
        if (r < 0)
                return r;
        v->epfd = epoll_create1(EPOLL_CLOEXEC);
        v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        v->vhost_socket = strdup(c->vhost_socket);
        if (v->epfd < 0 || v->stop_fd < 0)
                return err_set(e, errno, "vhost-vsock: %s", strerror(errno));
        if (!v->vhost_socket)
                return err_set(e, ENOMEM, "out of memory");
        v->ev_stop.fn = vhost_on_stop;
        r = vhost_epoll_add(v, v->stop_fd, EPOLLIN, &v->ev_stop);
        if (r < 0)
                return err_set(e, -r, "vhost-vsock: epoll: %s", strerror(-r));
        r = vhost_epoll_add(v, v->mux.listen_fd, EPOLLIN, &v->mux.ev_listen);
        if (r < 0)
                return err_set(e, -r, "vsock uds_path '%s': epoll: %s", c->uds_path, strerror(-r));
        return vu_dev_listen(v, c->vhost_socket, e);
}

int vhost_vsock_new(const VhostVsockConfig *c, VhostVsock **ret, Err *e)
{
        return vhost_vsock_new_adopt(c, -1, ret, e);
}

int vhost_vsock_new_adopt(const VhostVsockConfig *c, int uds_fd, VhostVsock **ret, Err *e)
{
        int r = vhost_check_config(c, e);
        VhostVsock *v = r < 0 ? NULL : calloc(1, sizeof(*v));
        if (!v) {
                if (uds_fd >= 0)
                        close(uds_fd);
                return r < 0 ? r : err_set(e, ENOMEM, "out of memory");
        }
        v->epfd = v->stop_fd = -1;
        v->guest_cid = c->guest_cid;
        vu_dev_init(&v->dev);
        mux_init(&v->mux);
        r = vhost_setup(v, c, uds_fd, e);
        if (r < 0) {
                /* do not unlink a path we did not bind: it may be someone else's */
                if (v->dev.listen_fd < 0) {
                        free(v->vhost_socket);
                        v->vhost_socket = NULL;
                }
                vhost_vsock_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

int vhost_vsock_start(VhostVsock *v, Err *e)
{
        if (v->running)
                return err_set(e, EALREADY, "vhost-vsock: already started");
        int r = pthread_create(&v->thread, NULL, vhost_thread, v);
        if (r != 0)
                return err_set(e, r, "vhost-vsock: thread: %s", strerror(r));
        v->running = true;
        return 0;
}

void vhost_vsock_free(VhostVsock *v)
{
        if (!v)
                return;
        if (v->running) {
                uint64_t one = 1;
                if (write(v->stop_fd, &one, sizeof(one)) < 0)
                        log_error("vhost-vsock: cannot stop the thread: %s", strerror(errno));
                pthread_join(v->thread, NULL);
        }
        mux_free(v);
        vu_dev_free(v);
        if (v->vhost_socket)
                (void)unlink(v->vhost_socket);
        fd_close_reset(&v->stop_fd);
        fd_close_reset(&v->epfd);
        free(v->vhost_socket);
        free(v);
}
