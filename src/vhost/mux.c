/* mux.c — the host side of hybrid vsock: the uds_path listener and its CONNECT lines,
 * the connection table keyed by (host port, guest port), host-port allocation, the queue
 * of connections with packets for the guest, pending RSTs, and deadlines. Connections
 * are killed at once but freed only after the loop round, because epoll may still hold
 * an event for them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "shared/log.h"
#include "shared/util.h"
#include "sockpath.h"
#include "vhost-internal.h"
#include "vhost-fd.h"

void mux_init(Mux *mx)
{
        memset(mx, 0, sizeof(*mx));
        mx->listen_fd = -1;
        list_init(&mx->all);
        list_init(&mx->rxq);
        list_init(&mx->dead);
        mx->next_port = VSOCK_HOST_PORT_FIRST;
}

static unsigned mux_hash(uint32_t local, uint32_t peer)
{
        uint64_t k = ((uint64_t)local << 32 | peer) * 0x9E3779B97F4A7C15ull;
        return (unsigned)(k >> 54) & (MUX_BUCKETS - 1);
}

VsockConn *mux_lookup(Mux *mx, uint32_t local, uint32_t peer)
{
        for (VsockConn *c = mx->table[mux_hash(local, peer)]; c; c = c->hnext)
                if (c->local_port == local && c->peer_port == peer)
                        return c;
        return NULL;
}

int mux_insert(Mux *mx, VsockConn *c)
{
        if (mux_lookup(mx, c->local_port, c->peer_port))
                return -EEXIST;
        VsockConn **b = &mx->table[mux_hash(c->local_port, c->peer_port)];
        c->hnext = *b;
        *b = c;
        c->keyed = true;
        return 0;
}

static void mux_unkey(Mux *mx, VsockConn *c)
{
        if (!c->keyed)
                return;
        for (VsockConn **p = &mx->table[mux_hash(c->local_port, c->peer_port)]; *p;
             p = &(*p)->hnext) {
                if (*p == c) {
                        *p = c->hnext;
                        break;
                }
        }
        c->keyed = false;
}

int mux_add(VhostVsock *v, VsockConn *c)
{
        list_add_tail(&v->mux.all, &c->all);
        v->mux.nconns++;
        return vhost_epoll_add(v, c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->ev);
}

void mux_kill(VhostVsock *v, VsockConn *c, bool rst)
{
        Mux *mx = &v->mux;
        if (c->dead)
                return;
        c->dead = true;
        if (rst && c->keyed && c->guest_knows)
                mux_rst_push(mx, c->local_port, c->peer_port);
        mux_unkey(mx, c);
        if (c->in_rxq) {
                list_del(&c->rxq);
                c->in_rxq = false;
        }
        list_del(&c->all);
        list_add_tail(&mx->dead, &c->all);
        mx->nconns--;
        if (c->fd >= 0) {
                vhost_epoll_del(v, c->fd);
                fd_close_reset(&c->fd);
        }
}

void mux_reap(Mux *mx)
{
        while (!list_empty(&mx->dead)) {
                VsockConn *c = container_of(mx->dead.next, VsockConn, all);
                list_del(&c->all);
                conn_free(c);
        }
}

void mux_rst_push(Mux *mx, uint32_t local, uint32_t peer)
{
        if (mx->rst_len == VSOCK_RST_QUEUE)
                return; /* full: a flooding guest loses RSTs, not our memory */
        mx->rst[(mx->rst_head + mx->rst_len++) % VSOCK_RST_QUEUE] = (RstKey){local, peer};
}

void mux_rx_want(Mux *mx, VsockConn *c)
{
        if (c->in_rxq || !conn_needs_rx(c))
                return;
        list_add_tail(&mx->rxq, &c->rxq);
        c->in_rxq = true;
}

bool mux_has_rx(const Mux *mx) { return mx->rst_len > 0 || !list_empty(&mx->rxq); }

void mux_set_deadline(Mux *mx, VsockConn *c, int64_t deadline)
{
        c->deadline = deadline;
        if (deadline && (!mx->timer_next || deadline < mx->timer_next))
                mx->timer_next = deadline;
}

static void mux_on_listen(VhostVsock *v, EvSrc *s, uint32_t events);

/* Out of fds: a level-triggered listener would wake us forever, so it rests a while. */
static void mux_listen_pause(VhostVsock *v)
{
        Mux *mx = &v->mux;
        vhost_epoll_del(v, mx->listen_fd);
        mx->listen_resume = now_ms() + VSOCK_ACCEPT_PAUSE_MS;
        if (!mx->timer_next || mx->listen_resume < mx->timer_next)
                mx->timer_next = mx->listen_resume;
}

static int64_t mux_listen_resume(VhostVsock *v, int64_t now)
{
        Mux *mx = &v->mux;
        if (!mx->listen_resume || now < mx->listen_resume)
                return mx->listen_resume;
        mx->listen_resume = 0;
        if (vhost_epoll_add(v, mx->listen_fd, EPOLLIN, &mx->ev_listen) < 0)
                mux_listen_pause(v);
        return mx->listen_resume;
}

void mux_timers(VhostVsock *v)
{
        Mux *mx = &v->mux;
        int64_t now = now_ms();
        if (!mx->timer_next || now < mx->timer_next)
                return;
        int64_t next = mux_listen_resume(v, now);
        for (ListNode *n = mx->all.next, *nn; n != &mx->all; n = nn) {
                nn = n->next;
                VsockConn *c = container_of(n, VsockConn, all);
                if (!c->deadline)
                        continue;
                if (c->deadline <= now) {
                        mux_kill(v, c, true);
                        continue;
                }
                next = next ? MIN(next, c->deadline) : c->deadline;
        }
        mx->timer_next = next;
}

int mux_timeout_ms(const Mux *mx)
{
        if (!mx->timer_next)
                return -1;
        int64_t left = mx->timer_next - now_ms();
        return left <= 0 ? 0 : (int)MIN(left, (int64_t)60000);
}

void mux_reset(VhostVsock *v)
{
        Mux *mx = &v->mux;
        for (ListNode *n = mx->all.next, *nn; n != &mx->all; n = nn) {
                nn = n->next;
                VsockConn *c = container_of(n, VsockConn, all);
                if (c->guest_knows)
                        mux_kill(v, c, false);
        }
        mx->rst_len = 0;
}

static uint32_t mux_alloc_port(Mux *mx, uint32_t peer)
{
        for (;;) {
                uint32_t p = mx->next_port++;
                if (mx->next_port >= VSOCK_HOST_PORT_END)
                        mx->next_port = VSOCK_HOST_PORT_FIRST;
                if (!mux_lookup(mx, p, peer))
                        return p; /* at most VSOCK_MAX_CONNS tries */
        }
}

/* Reads the CONNECT line without reading past its '\n' (bytes after it belong to the
 * guest); tolerates a line split across writes until the command deadline. */
static void mux_cmd_read(VhostVsock *v, VsockConn *c, uint32_t events)
{
        char buf[VSOCK_CMD_MAX];
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
        if (!nl) {
                if (n <= 0 || n == (ssize_t)sizeof(buf) || (events & (EPOLLHUP | EPOLLRDHUP)))
                        mux_kill(v, c, false);
                return;
        }
        size_t len = (size_t)(nl - buf) + 1;
        uint32_t port;
        if (recv(c->fd, buf, len, MSG_DONTWAIT) != (ssize_t)len ||
            vsock_connect_parse(buf, len - 1, &port) < 0) {
                mux_kill(v, c, false); /* malformed: closed without a reply */
                return;
        }
        c->state = CONN_LOCAL_INIT;
        c->peer_port = port;
        c->local_port = mux_alloc_port(&v->mux, port);
        c->pending = PEND_REQUEST;
        mux_set_deadline(&v->mux, c, 0); /* the REQUEST's own timer starts when it is sent */
        if (mux_insert(&v->mux, c) < 0) {
                mux_kill(v, c, false);
                return;
        }
        mux_rx_want(&v->mux, c);
}

void mux_conn_event(VhostVsock *v, EvSrc *s, uint32_t events)
{
        VsockConn *c = container_of(s, VsockConn, ev);
        if (c->dead)
                return;
        if (c->state == CONN_CMD)
                mux_cmd_read(v, c, events);
        else
                conn_host_event(v, c, events);
}

static void mux_accept_one(VhostVsock *v, int fd)
{
        Mux *mx = &v->mux;
        if (mx->nconns >= VSOCK_MAX_CONNS) {
                close(fd); /* Firecracker: accepted and closed at the limit */
                return;
        }
        VsockConn *c = conn_new(fd, CONN_CMD);
        if (!c) {
                close(fd);
                return;
        }
        mux_set_deadline(mx, c, now_ms() + VSOCK_CMD_TIMEOUT_MS);
        if (mux_add(v, c) < 0)
                mux_kill(v, c, false);
}

static void mux_on_listen(VhostVsock *v, EvSrc *s, uint32_t events)
{
        for (unsigned i = 0; i < VSOCK_ACCEPTS_PER_WAKEUP; i++) {
                int fd = accept4(v->mux.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return;
                        vhost_warn(v, "accept on uds_path: %s; pausing", strerror(errno));
                        mux_listen_pause(v);
                        return;
                }
                mux_accept_one(v, fd);
        }
}

int mux_listen(VhostVsock *v, const char *uds_path, int uds_fd, Err *e)
{
        Mux *mx = &v->mux;
        mx->listen_fd = uds_fd; /* adopted (owned from here on), or -1 */
        mx->uds_path = strdup(uds_path);
        if (!mx->uds_path)
                return err_set(e, ENOMEM, "out of memory");
        int r = uds_fd >= 0 ? fd_nonblock(uds_fd, true)
                            : sockpath_listen(uds_path, 128, &mx->listen_fd);
        if (r < 0)
                return err_set(e, -r, "vsock uds_path '%s': %s", uds_path, strerror(-r));
        mx->ev_listen.fn = mux_on_listen; /* the caller adds listen_fd to epoll */
        return 0;
}

void mux_free(VhostVsock *v)
{
        Mux *mx = &v->mux;
        while (!list_empty(&mx->all))
                mux_kill(v, container_of(mx->all.next, VsockConn, all), false);
        mux_reap(mx);
        fd_close_reset(&mx->listen_fd);
        free(mx->uds_path);
        mx->uds_path = NULL;
}

static uint32_t mux_emit_rst(VhostVsock *v, const VirtqChain *ch)
{
        Mux *mx = &v->mux;
        RstKey k = mx->rst[mx->rst_head];
        mx->rst_head = (mx->rst_head + 1) % VSOCK_RST_QUEUE;
        mx->rst_len--;
        VsockHdr h = {.src_cid = VSOCK_CID_HOST, .dst_cid = v->guest_cid,
                      .src_port = k.local, .dst_port = k.peer,
                      .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST};
        uint8_t raw[VSOCK_HDR_SIZE];
        vsock_hdr_encode(&h, raw);
        virtq_chain_write(ch, 0, raw, sizeof(raw));
        return VSOCK_HDR_SIZE;
}

uint32_t mux_rx_fill(VhostVsock *v, const VirtqChain *ch)
{
        Mux *mx = &v->mux;
        for (;;) {
                if (mx->rst_len > 0)
                        return mux_emit_rst(v, ch);
                if (list_empty(&mx->rxq))
                        return 0;
                VsockConn *c = container_of(mx->rxq.next, VsockConn, rxq);
                list_del(&c->rxq);
                c->in_rxq = false;
                int r = conn_emit(v, c, ch);
                if (r < 0) {
                        mux_kill(v, c, true); /* its RST goes out next round of this loop */
                        continue;
                }
                if (r == 0)
                        continue;
                mux_rx_want(mx, c); /* to the tail: one packet per connection per turn */
                return (uint32_t)r;
        }
}

void mux_guest_pkt(VhostVsock *v, const VsockHdr *h, const VirtqChain *ch)
{
        Mux *mx = &v->mux;
        VsockConn *c;
        switch (vsock_pkt_check(h, v->guest_cid, ch->read_len - VSOCK_HDR_SIZE)) {
        case PKT_DROP:
                vhost_warn(v, "dropped %s from cid %llu to cid %llu",
                           vsock_op_name(h->op), (unsigned long long)h->src_cid,
                           (unsigned long long)h->dst_cid);
                return;
        case PKT_RST:
                vhost_warn(v, "malformed %s (type %u, len %u): RST",
                           vsock_op_name(h->op), h->type, h->len);
                c = mux_lookup(mx, h->dst_port, h->src_port);
                if (c)
                        mux_kill(v, c, true);
                else
                        mux_rst_push(mx, h->dst_port, h->src_port);
                return;
        case PKT_ACCEPT:
                break;
        }
        c = mux_lookup(mx, h->dst_port, h->src_port);
        if (c)
                conn_guest_pkt(v, c, h, ch);
        else if (h->op == VSOCK_OP_REQUEST)
                conn_guest_connect(v, h);
        else if (h->op != VSOCK_OP_RST)
                mux_rst_push(mx, h->dst_port, h->src_port); /* unknown connection */
}
