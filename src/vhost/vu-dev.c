/* vu-dev.c — the vhost-user front-end connection (QEMU): accept one front-end at a time,
 * answer its messages (one handler per request, see the table at the end), keep the
 * rings' fds and the memory table, and reset the device when QEMU goes away. Reply
 * flags are exactly VERSION|REPLY (QEMU 7.2 rejects anything else). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "shared/log.h"
#include "shared/util.h"
#include "sockpath.h"
#include "vhost-internal.h"
#include "vhost-fd.h"

#define F_PROTOCOL_FEATURES (1ull << 30)
#define F_VERSION_1 (1ull << 32)
#define VU_FEATURES (F_VERSION_1 | F_PROTOCOL_FEATURES)
#define PF_MQ (1ull << 0)
#define PF_REPLY_ACK (1ull << 3)
#define PF_CONFIG (1ull << 9)
#define VU_PROTOCOL_FEATURES (PF_MQ | PF_REPLY_ACK | PF_CONFIG)

typedef struct VuReply {
        uint8_t data[VU_MAX_PAYLOAD];
        uint32_t size;
} VuReply;

typedef int (*VuHandler)(VhostVsock *v, VuMsg *m, VuReply *rep);

void vu_dev_init(VuDev *d)
{
        memset(d, 0, sizeof(*d));
        d->listen_fd = d->fd = -1;
        for (unsigned i = 0; i < VQ_COUNT; i++)
                virtq_init(&d->vq[i]);
}

static void reply_u64(VuReply *rep, uint64_t val)
{
        memcpy(rep->data, &val, sizeof(val));
        rep->size = sizeof(val);
}

static Virtq *vu_ring(VhostVsock *v, uint32_t index)
{
        return index < VQ_COUNT ? &v->dev.vq[index] : NULL;
}

static void vu_kick_unwatch(VhostVsock *v, Virtq *q)
{
        if (q->kick_fd >= 0)
                vhost_epoll_del(v, q->kick_fd);
        fd_close_reset(&q->kick_fd);
        q->started = false;
}

/* Front-end gone or broken: forget everything but the listener and the hybrid socket. */
static void vu_dev_reset(VhostVsock *v)
{
        VuDev *d = &v->dev;
        for (unsigned i = 0; i < VQ_COUNT; i++) {
                vu_kick_unwatch(v, &d->vq[i]);
                virtq_reset(&d->vq[i]);
                d->vq[i].saved_valid = false;
        }
        vu_mem_clear(&d->mem);
        d->features = d->protocol_features = 0;
        mux_reset(v);
}

static void vu_dev_disconnect(VhostVsock *v)
{
        VuDev *d = &v->dev;
        if (d->fd < 0)
                return;
        vhost_epoll_del(v, d->fd);
        fd_close_reset(&d->fd);
        vu_dev_reset(v);
        if (vhost_epoll_add(v, d->listen_fd, EPOLLIN, &d->ev_listen) < 0)
                log_error("vhost-vsock: cannot listen for a new front-end");
        log_info("vhost-vsock: front-end disconnected; device reset, waiting for a new one");
}

static int h_get_features(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        reply_u64(rep, VU_FEATURES);
        return 0;
}

static int h_set_features(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        if (m->p.u64 & ~VU_FEATURES)
                return -EINVAL;
        v->dev.features = m->p.u64;
        return 0;
}

static int h_nop(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        return 0; /* SET_OWNER: must not clear the negotiated protocol features */
}

static int h_reset_owner(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        for (unsigned i = 0; i < VQ_COUNT; i++)
                vu_kick_unwatch(v, &v->dev.vq[i]);
        return 0;
}

static int vu_translate_all(VhostVsock *v)
{
        int ret = 0;
        for (unsigned i = 0; i < VQ_COUNT; i++) {
                int r = virtq_translate(&v->dev.vq[i], &v->dev.mem);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

static int h_set_mem_table(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        int r = vu_mem_set(&v->dev.mem, m->p.mem.regions, m->fds, m->p.mem.nregions);
        if (r < 0)
                return r;
        return vu_translate_all(v);
}

static int h_set_vring_num(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, m->p.state.index);
        uint32_t num = m->p.state.num;
        if (!q || num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
                return -EINVAL;
        q->num = (uint16_t)num;
        return virtq_translate(q, &v->dev.mem);
}

static int h_set_vring_addr(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, m->p.addr.index);
        if (!q)
                return -EINVAL;
        q->desc_uva = m->p.addr.desc;
        q->used_uva = m->p.addr.used;
        q->avail_uva = m->p.addr.avail;
        q->addr_set = true;
        return virtq_translate(q, &v->dev.mem);
}

/* A restart from another index than the one we stopped at is a device reset (the guest
 * driver restarts at 0); the same index is a pause (QMP stop/cont) and keeps everything. */
static int h_set_vring_base(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, m->p.state.index);
        if (!q || m->p.state.num > UINT16_MAX)
                return -EINVAL;
        uint16_t base = (uint16_t)m->p.state.num;
        if (q->saved_valid && q->saved_base != base) {
                vhost_warn(v, "ring %u restarts at %u (stopped at %u): device reset",
                           m->p.state.index, base, q->saved_base);
                mux_reset(v);
                for (unsigned i = 0; i < VQ_COUNT; i++)
                        v->dev.vq[i].saved_valid = false;
        }
        q->last_avail = q->used_idx = base;
        q->broken = false;
        return 0;
}

static int h_get_vring_base(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, m->p.state.index);
        if (!q)
                return -EINVAL;
        vu_kick_unwatch(v, q);
        q->saved_base = q->last_avail;
        q->saved_valid = true;
        VuVringState st = {m->p.state.index, q->last_avail};
        memcpy(rep->data, &st, sizeof(st));
        rep->size = sizeof(st);
        return 0;
}

static void vu_on_kick(VhostVsock *v, EvSrc *s, uint32_t events)
{
        Virtq *q = &v->dev.vq[s - v->dev.ev_kick];
        uint64_t cnt;
        if (q->kick_fd >= 0 && read(q->kick_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
                vu_kick_unwatch(v, q);
        /* the work itself happens in vsock_dev_run() after the events */
}

static int h_set_vring_kick(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        uint32_t index = (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK);
        Virtq *q = vu_ring(v, index);
        if (!q || m->nfds != 1)
                return -EINVAL; /* NOFD (polling) is not supported: QEMU always sends one */
        vu_kick_unwatch(v, q);
        q->kick_fd = vu_msg_take_fd(m, 0);
        int r = fd_nonblock(q->kick_fd, true);
        if (r >= 0)
                r = vhost_epoll_add(v, q->kick_fd, EPOLLIN, &v->dev.ev_kick[index]);
        if (r < 0) {
                fd_close_reset(&q->kick_fd);
                return r;
        }
        q->started = true;
        if (!(v->dev.features & F_PROTOCOL_FEATURES))
                q->enabled = true; /* without it, rings start enabled */
        return 0;
}

static int vu_replace_fd(VuMsg *m, int *slot)
{
        fd_close_reset(slot);
        *slot = m->nfds ? vu_msg_take_fd(m, 0) : -1;
        return *slot >= 0 ? fd_nonblock(*slot, true) : 0;
}

static int h_set_vring_call(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK));
        return q ? vu_replace_fd(m, &q->call_fd) : -EINVAL;
}

static int h_set_vring_err(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK));
        return q ? vu_replace_fd(m, &q->err_fd) : -EINVAL;
}

static int h_get_protocol_features(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        reply_u64(rep, VU_PROTOCOL_FEATURES);
        return 0;
}

static int h_set_protocol_features(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        if (m->p.u64 & ~VU_PROTOCOL_FEATURES)
                return -EINVAL;
        v->dev.protocol_features = m->p.u64;
        return 0;
}

static int h_get_queue_num(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        reply_u64(rep, VQ_COUNT);
        return 0;
}

static int h_set_vring_enable(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        Virtq *q = vu_ring(v, m->p.state.index);
        if (!q || m->p.state.num > 1)
                return -EINVAL;
        q->enabled = m->p.state.num;
        return 0; /* on enable, vsock_dev_run() rescans both rings this round */
}

/* Config space: le64 guest_cid at offset 0. Out of range: an empty reply (the
 * vhost-user way of saying "error"). */
static int h_get_config(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        VuConfig *req = &m->p.config;
        uint64_t cid = htole64(v->guest_cid);
        rep->size = 0;
        if (req->offset > sizeof(cid) || req->size > sizeof(cid) - req->offset)
                return 0;
        memcpy(rep->data, req, 12);
        memcpy(rep->data + 12, (uint8_t *)&cid + req->offset, req->size);
        rep->size = 12 + req->size;
        return 0;
}

static int h_set_config(VhostVsock *v, VuMsg *m, VuReply *rep)
{
        /* guest_cid is read-only: nack when asked, else ignore (a guest writing config
         * space must not cost the VM its vsock device) */
        return (m->hdr.flags & VU_FLAG_NEED_REPLY) ? -EPERM : 0;
}

static const VuHandler vu_handlers[VU_REQ_MAX] = {
        [VU_GET_FEATURES] = h_get_features,
        [VU_SET_FEATURES] = h_set_features,
        [VU_SET_OWNER] = h_nop,
        [VU_RESET_OWNER] = h_reset_owner,
        [VU_SET_MEM_TABLE] = h_set_mem_table,
        [VU_SET_VRING_NUM] = h_set_vring_num,
        [VU_SET_VRING_ADDR] = h_set_vring_addr,
        [VU_SET_VRING_BASE] = h_set_vring_base,
        [VU_GET_VRING_BASE] = h_get_vring_base,
        [VU_SET_VRING_KICK] = h_set_vring_kick,
        [VU_SET_VRING_CALL] = h_set_vring_call,
        [VU_SET_VRING_ERR] = h_set_vring_err,
        [VU_GET_PROTOCOL_FEATURES] = h_get_protocol_features,
        [VU_SET_PROTOCOL_FEATURES] = h_set_protocol_features,
        [VU_GET_QUEUE_NUM] = h_get_queue_num,
        [VU_SET_VRING_ENABLE] = h_set_vring_enable,
        [VU_GET_CONFIG] = h_get_config,
        [VU_SET_CONFIG] = h_set_config,
};

/* Runs one checked message; returns < 0 if the front-end must be dropped. */
static int vu_dispatch(VhostVsock *v, VuMsg *m)
{
        VuHandler h = m->hdr.request < VU_REQ_MAX ? vu_handlers[m->hdr.request] : NULL;
        VuReply rep = {.size = 0};
        int r = h ? h(v, m, &rep) : -EOPNOTSUPP;
        bool need_ack = m->hdr.flags & VU_FLAG_NEED_REPLY;
        if (vu_msg_has_reply(m->hdr.request)) {
                if (r < 0)
                        return r;
                return vu_msg_reply(v->dev.fd, m->hdr.request, rep.data, rep.size);
        }
        if (need_ack) {
                uint64_t status = r < 0 ? 1 : 0;
                int w = vu_msg_reply(v->dev.fd, m->hdr.request, &status, sizeof(status));
                if (w < 0)
                        return w;
                if (r < 0)
                        log_warn("vhost-vsock: %s failed: %s (nacked)",
                                 vu_msg_name(m->hdr.request), strerror(-r));
                return 0;
        }
        return r == -EOPNOTSUPP ? 0 : r;
}

static int vu_handle_one(VhostVsock *v)
{
        VuMsg m;
        int r = vu_msg_recv(v->dev.fd, &m);
        if (r < 0 && r != -EAGAIN && r != -EPIPE)
                log_error("vhost-vsock: bad message from the front-end (request %u, size %u,"
                          " %u fds): %s", m.hdr.request, m.hdr.size, m.nfds, strerror(-r));
        if (r >= 0) {
                r = vu_msg_check(&m);
                if (r == -EOPNOTSUPP)
                        log_warn("vhost-vsock: unsupported request %u ignored", m.hdr.request);
                if (r >= 0 || r == -EOPNOTSUPP)
                        r = vu_dispatch(v, &m);
                if (r < 0 && r != -EAGAIN)
                        log_error("vhost-vsock: %s (%u, size %u, %u fds): %s",
                                  vu_msg_name(m.hdr.request), m.hdr.request, m.hdr.size,
                                  m.nfds, strerror(-r));
        }
        vu_msg_close_fds(&m);
        return r;
}

static void vu_on_msg(VhostVsock *v, EvSrc *s, uint32_t events)
{
        for (unsigned i = 0; i < VU_MSGS_PER_WAKEUP && v->dev.fd >= 0; i++) {
                int r = vu_handle_one(v);
                if (r == -EAGAIN)
                        return;
                if (r < 0) {
                        vu_dev_disconnect(v);
                        return;
                }
        }
}

static void vu_on_listen(VhostVsock *v, EvSrc *s, uint32_t events)
{
        VuDev *d = &v->dev;
        if (d->fd >= 0)
                return;
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return;
        /* One front-end at a time: the next one waits in the backlog until this one goes. */
        vhost_epoll_del(v, d->listen_fd);
        d->fd = fd;
        if (vhost_epoll_add(v, fd, EPOLLIN, &d->ev_conn) < 0) {
                vu_dev_disconnect(v);
                return;
        }
        log_info("vhost-vsock: front-end connected");
}

int vu_dev_listen(VhostVsock *v, const char *path, Err *e)
{
        VuDev *d = &v->dev;
        d->ev_listen.fn = vu_on_listen;
        d->ev_conn.fn = vu_on_msg;
        for (unsigned i = 0; i < VQ_COUNT; i++)
                d->ev_kick[i].fn = vu_on_kick;
        int r = sockpath_listen(path, 1, &d->listen_fd);
        if (r < 0)
                return err_set(e, -r, "vhost-user socket '%s': %s", path, strerror(-r));
        r = vhost_epoll_add(v, d->listen_fd, EPOLLIN, &d->ev_listen);
        if (r < 0)
                return err_set(e, -r, "vhost-user socket '%s': epoll: %s", path, strerror(-r));
        return 0;
}

void vu_dev_free(VhostVsock *v)
{
        VuDev *d = &v->dev;
        for (unsigned i = 0; i < VQ_COUNT; i++)
                virtq_reset(&d->vq[i]);
        vu_mem_clear(&d->mem);
        fd_close_reset(&d->fd);
        fd_close_reset(&d->listen_fd);
}
