/* vsock-conn.c — one hybrid-vsock connection: guest packets in (one handler per op),
 * packets out (control first, then data, each bounded by the guest's credit), the host
 * socket's events, and the half-close rules of virtio-vsock SHUTDOWN. It must not block:
 * every host socket is non-blocking, and what the host cannot take is kept in a buffer
 * no larger than the credit we advertised. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shared/util.h"
#include "vhost-internal.h"
#include "vhost-fd.h"

enum { ACT_KEEP = 0, ACT_KILL = 1, ACT_KILL_RST = 2 };

VsockConn *conn_new(int fd, ConnState state)
{
        VsockConn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->ev.fn = mux_conn_event;
        c->fd = fd;
        c->state = state;
        credit_init(&c->credit, VSOCK_CONN_BUF);
        ringbuf_init(&c->wbuf, VSOCK_CONN_BUF);
        list_init(&c->all);
        list_init(&c->rxq);
        return c;
}

void conn_free(VsockConn *c)
{
        if (!c)
                return;
        fd_close_reset(&c->fd);
        ringbuf_free(&c->wbuf);
        free(c);
}

static bool conn_can_read(const VsockConn *c)
{
        return c->state == CONN_ESTABLISHED && c->host_readable &&
               !(c->local_shut & VSOCK_SHUTDOWN_SEND) && !(c->peer_shut & VSOCK_SHUTDOWN_RCV);
}

bool conn_needs_rx(const VsockConn *c)
{
        if (c->dead)
                return false;
        return c->pending != 0 || (conn_can_read(c) && credit_peer_free(&c->credit) > 0);
}

/* Asks for credit once per stall; offers ours when the guest's view of it runs low. */
static void conn_check_credit(VsockConn *c)
{
        if (conn_can_read(c) && credit_peer_free(&c->credit) == 0 && !c->credit_requested) {
                c->pending |= PEND_CREDIT_REQUEST;
                c->credit_requested = true;
        }
        if (c->state == CONN_ESTABLISHED && credit_update_due(&c->credit, VSOCK_CREDIT_LOW))
                c->pending |= PEND_CREDIT_UPDATE;
}

/* The buffer is empty: finish what a guest SHUTDOWN asked for. */
static int conn_drained(VsockConn *c)
{
        if (c->peer_shut == VSOCK_SHUTDOWN_ALL)
                return ACT_KILL_RST; /* orderly end: the guest waits for our RST */
        if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->host_wr_shut) {
                (void)shutdown(c->fd, SHUT_WR);
                c->host_wr_shut = true;
        }
        return ACT_KEEP;
}

static int conn_flush(VsockConn *c)
{
        while (c->wbuf.len > 0) {
                ssize_t n = ringbuf_send(&c->wbuf, c->fd);
                if (n == -EAGAIN)
                        return ACT_KEEP;
                if (n < 0)
                        return ACT_KILL_RST;
                credit_fwd(&c->credit, (uint32_t)n);
        }
        return conn_drained(c);
}

/* Guest payload to the host socket: straight from guest memory when nothing is queued,
 * the rest into wbuf (which the credit we advertised guarantees to be large enough). */
static int conn_write_guest_data(VsockConn *c, const VirtqChain *ch, uint32_t len)
{
        if (credit_rx(&c->credit, len) < 0)
                return ACT_KILL_RST; /* the guest ignored our buf_alloc */
        if (c->local_shut & VSOCK_SHUTDOWN_RCV) {
                credit_fwd(&c->credit, len); /* we said we receive no more: discard */
                return ACT_KEEP;
        }
        struct iovec iov[VQ_MAX_CHAIN_SEGS];
        size_t got, sent = 0;
        unsigned n = virtq_chain_iov(ch, false, VSOCK_HDR_SIZE, len, iov, ELEMENTSOF(iov), &got);
        if (got != len)
                return ACT_KILL_RST;
        if (c->wbuf.len == 0) {
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
                ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                        return ACT_KILL_RST;
                sent = w > 0 ? (size_t)w : 0;
                credit_fwd(&c->credit, (uint32_t)sent);
        }
        if (sent < len && ringbuf_push(&c->wbuf, iov, n, sent) < 0)
                return ACT_KILL_RST;
        return ACT_KEEP;
}

typedef int (*PktFn)(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch);

static int pkt_unexpected(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        return ACT_KILL_RST; /* e.g. a second REQUEST for a live connection */
}

static int pkt_response(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        if (c->state != CONN_LOCAL_INIT || !c->guest_knows)
                return ACT_KILL_RST;
        char line[32];
        int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
        if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
                return ACT_KILL_RST; /* Firecracker: a short OK write kills the connection */
        c->state = CONN_ESTABLISHED;
        c->host_readable = true; /* the client may have written before OK */
        mux_set_deadline(&v->mux, c, 0);
        return ACT_KEEP;
}

static int pkt_rst(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        return ACT_KILL; /* never answer an RST; the host socket closes without OK */
}

static int pkt_shutdown(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        if (c->state != CONN_ESTABLISHED)
                return ACT_KILL_RST;
        c->peer_shut |= h->flags & VSOCK_SHUTDOWN_ALL;
        if (c->wbuf.len > 0) {
                if (c->peer_shut == VSOCK_SHUTDOWN_ALL)
                        mux_set_deadline(&v->mux, c, now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS);
                return ACT_KEEP;
        }
        return conn_drained(c);
}

static int pkt_rw(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        if (c->state != CONN_ESTABLISHED)
                return ACT_KILL_RST;
        return h->len ? conn_write_guest_data(c, ch, h->len) : ACT_KEEP;
}

static int pkt_credit_update(VhostVsock *v, VsockConn *c, const VsockHdr *h,
                             const VirtqChain *ch)
{
        return ACT_KEEP; /* the credit fields were taken already */
}

static int pkt_credit_request(VhostVsock *v, VsockConn *c, const VsockHdr *h,
                              const VirtqChain *ch)
{
        c->pending |= PEND_CREDIT_UPDATE;
        return ACT_KEEP;
}

static const PktFn pkt_handlers[VSOCK_OP_MAX] = {
        [VSOCK_OP_REQUEST] = pkt_unexpected,
        [VSOCK_OP_RESPONSE] = pkt_response,
        [VSOCK_OP_RST] = pkt_rst,
        [VSOCK_OP_SHUTDOWN] = pkt_shutdown,
        [VSOCK_OP_RW] = pkt_rw,
        [VSOCK_OP_CREDIT_UPDATE] = pkt_credit_update,
        [VSOCK_OP_CREDIT_REQUEST] = pkt_credit_request,
};

void conn_guest_pkt(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch)
{
        PktFn fn = h->op < VSOCK_OP_MAX ? pkt_handlers[h->op] : NULL;
        int act = fn ? ACT_KEEP : ACT_KILL_RST;
        credit_peer_update(&c->credit, h->buf_alloc, h->fwd_cnt);
        if (credit_peer_free(&c->credit) > 0)
                c->credit_requested = false;
        if (fn)
                act = fn(v, c, h, ch);
        if (act != ACT_KEEP) {
                mux_kill(v, c, act == ACT_KILL_RST);
                return;
        }
        conn_check_credit(c);
        mux_rx_want(&v->mux, c);
}

/* Non-blocking: an AF_UNIX connect completes at once or fails (EAGAIN = backlog full),
 * so a guest cannot make us wait on a slow host listener; any failure is an RST. */
static int conn_dial(const char *base, uint32_t port, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", base, port);
        if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void conn_guest_connect(VhostVsock *v, const VsockHdr *h)
{
        Mux *mx = &v->mux;
        int fd = -1;
        if (mx->nconns >= VSOCK_MAX_CONNS || conn_dial(mx->uds_path, h->dst_port, &fd) < 0) {
                mux_rst_push(mx, h->dst_port, h->src_port); /* refused: ECONNRESET in the guest */
                return;
        }
        VsockConn *c = conn_new(fd, CONN_PEER_INIT);
        if (!c) {
                close(fd);
                mux_rst_push(mx, h->dst_port, h->src_port);
                return;
        }
        c->local_port = h->dst_port;
        c->peer_port = h->src_port;
        c->guest_knows = true;
        c->pending = PEND_RESPONSE;
        credit_peer_update(&c->credit, h->buf_alloc, h->fwd_cnt);
        if (mux_add(v, c) < 0 || mux_insert(mx, c) < 0) {
                mux_kill(v, c, true);
                return;
        }
        mux_rx_want(mx, c);
}

static void conn_host_eof(VhostVsock *v, VsockConn *c)
{
        /* Closed, or only shut for writing? A closed peer (POLLHUP) gets SHUTDOWN(RCV|SEND)
         * in one packet even when its hang-up event has not been seen yet. */
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
                c->host_hup = true;
        c->host_readable = false;
        c->local_shut |= VSOCK_SHUTDOWN_SEND | (c->host_hup ? VSOCK_SHUTDOWN_RCV : 0);
        c->pending |= PEND_SHUTDOWN;
        if (c->local_shut == VSOCK_SHUTDOWN_ALL)
                mux_set_deadline(&v->mux, c, now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS);
}

void conn_host_event(VhostVsock *v, VsockConn *c, uint32_t events)
{
        if (events & EPOLLERR) {
                mux_kill(v, c, true);
                return;
        }
        if (events & EPOLLHUP)
                c->host_hup = true;
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
                c->host_readable = true;
        if ((events & (EPOLLOUT | EPOLLHUP)) && c->wbuf.len > 0 && conn_flush(c) != ACT_KEEP) {
                mux_kill(v, c, true);
                return;
        }
        if (c->state == CONN_LOCAL_INIT && c->host_hup) {
                mux_kill(v, c, true); /* the client gave up before OK */
                return;
        }
        if (c->host_hup && (c->local_shut & VSOCK_SHUTDOWN_SEND) &&
            !(c->local_shut & VSOCK_SHUTDOWN_RCV)) {
                c->local_shut |= VSOCK_SHUTDOWN_RCV; /* half-closed, now fully closed */
                c->pending |= PEND_SHUTDOWN;
                mux_set_deadline(&v->mux, c, now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS);
        }
        conn_check_credit(c);
        mux_rx_want(&v->mux, c);
}

/* Host bytes straight into the guest's rx buffer, bounded by its credit. 1 = data read,
 * 0 = nothing (EAGAIN or EOF, handled), < 0 = the socket failed. */
static int conn_read_host(VhostVsock *v, VsockConn *c, const VirtqChain *ch, uint32_t *ret)
{
        uint64_t room = ch->write_len - VSOCK_HDR_SIZE;
        size_t want = (size_t)MIN(MIN(room, (uint64_t)credit_peer_free(&c->credit)),
                                  (uint64_t)VSOCK_MAX_PAYLOAD);
        struct iovec iov[VQ_MAX_CHAIN_SEGS];
        size_t got;
        unsigned n = virtq_chain_iov(ch, true, VSOCK_HDR_SIZE, want, iov, ELEMENTSOF(iov), &got);
        if (got == 0)
                return 0;
        ssize_t r = readv(c->fd, iov, (int)n);
        if (r > 0) {
                *ret = (uint32_t)r;
                credit_tx(&c->credit, (uint32_t)r);
                return 1;
        }
        if (r == 0)
                conn_host_eof(v, c);
        else if (errno == EAGAIN || errno == EINTR)
                c->host_readable = false;
        else
                return -errno;
        return 0;
}

static void emit_request(VhostVsock *v, VsockConn *c)
{
        c->guest_knows = true;
        mux_set_deadline(&v->mux, c, now_ms() + VSOCK_REQUEST_TIMEOUT_MS);
}

static void emit_response(VhostVsock *v, VsockConn *c)
{
        c->state = CONN_ESTABLISHED;
        c->host_readable = true;
}

static const struct {
        unsigned bit;
        uint16_t op;
        void (*fn)(VhostVsock *v, VsockConn *c);
} ctl_first[] = {
        {PEND_REQUEST, VSOCK_OP_REQUEST, emit_request},
        {PEND_RESPONSE, VSOCK_OP_RESPONSE, emit_response},
}, ctl_after_data[] = {
        {PEND_SHUTDOWN, VSOCK_OP_SHUTDOWN, NULL},
        {PEND_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST, NULL},
        {PEND_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE, NULL},
};

#define TAKE_CTL(table, v, c, op)                                                                  \
        for (size_t _i = 0; !(op) && _i < ELEMENTSOF(table); _i++) {                               \
                if (!((c)->pending & table[_i].bit))                                               \
                        continue;                                                                  \
                (c)->pending &= ~table[_i].bit;                                                    \
                (op) = table[_i].op;                                                               \
                if (table[_i].fn)                                                                  \
                        table[_i].fn(v, c);                                                        \
        }

int conn_emit(VhostVsock *v, VsockConn *c, const VirtqChain *ch)
{
        uint16_t op = 0;
        uint32_t len = 0;
        TAKE_CTL(ctl_first, v, c, op);
        if (!op && conn_can_read(c) && credit_peer_free(&c->credit) > 0) {
                int r = conn_read_host(v, c, ch, &len);
                if (r < 0)
                        return r;
                if (r > 0)
                        op = VSOCK_OP_RW;
        }
        TAKE_CTL(ctl_after_data, v, c, op);
        if (!op)
                return 0;
        VsockHdr h = {
                .src_cid = VSOCK_CID_HOST, .dst_cid = v->guest_cid,
                .src_port = c->local_port, .dst_port = c->peer_port,
                .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
                .flags = op == VSOCK_OP_SHUTDOWN ? c->local_shut : 0,
                .buf_alloc = c->credit.buf_alloc, .fwd_cnt = c->credit.fwd_cnt,
        };
        uint8_t raw[VSOCK_HDR_SIZE];
        vsock_hdr_encode(&h, raw);
        virtq_chain_write(ch, 0, raw, sizeof(raw));
        credit_sent(&c->credit);
        c->pending &= ~PEND_CREDIT_UPDATE; /* every packet carries fwd_cnt */
        conn_check_credit(c);
        return (int)(VSOCK_HDR_SIZE + len);
}
