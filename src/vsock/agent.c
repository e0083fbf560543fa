/* agent.c — the agent client (see agent.h). agent_exec() is one poll loop over a
 * non-blocking socket that writes the EXEC and stdin frames while it reads output frames,
 * so a program that prints a lot before reading stdin never deadlocks us.
 * Frame handling is a table by type. Must not trust any length or errno from the guest. */
#include "agent.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static int proto_error(Err *e, const char *what)
{
        return err_set(e, EPROTO, "agent protocol error: %s", what);
}

/* ---- ping ---- */

static int pong_parse(const uint8_t *p, size_t len, AgentPong *ret)
{
        AgentPong pong = {0};
        for (size_t off = 0; off < len;) {
                if (len - off < 8)
                        return -EBADMSG;
                uint16_t tag;
                uint32_t n, v;
                memcpy(&tag, p + off, 2);
                memcpy(&n, p + off + 4, 4);
                tag = le16toh(tag);
                n = le32toh(n);
                off += 8;
                if (n > len - off)
                        return -EBADMSG;
                if ((tag == PONG_TAG_AGENT_VERSION || tag == PONG_TAG_UPTIME_MS) && n == 4) {
                        memcpy(&v, p + off, 4);
                        *(tag == PONG_TAG_AGENT_VERSION ? &pong.agent_version : &pong.uptime_ms) =
                                le32toh(v);
                }
                off += n; /* unknown tags: forward compatible */
        }
        *ret = pong;
        return 0;
}

int agent_ping(int fd, int64_t deadline_ms, AgentPong *ret, Err *e)
{
        int r = proto_write_frame(fd, PROTO_PING, NULL, 0, deadline_ms);
        if (r < 0)
                return err_set(e, -r, "agent ping: cannot send: %s", strerror(-r));
        ProtoFrame f = {0};
        r = proto_read_frame(fd, &f, deadline_ms);
        if (r == -ETIMEDOUT)
                return err_set(e, ETIMEDOUT, "agent ping: no answer in time");
        if (r == -EPIPE || r == -ECONNRESET)
                return err_set(e, ECONNRESET, "agent ping: connection closed");
        if (r < 0)
                return proto_error(e, "ping: bad frame");
        AgentPong pong;
        if (f.hdr.type != PROTO_PONG)
                r = proto_error(e, "ping answered by a frame other than pong");
        else if (pong_parse(f.payload, f.hdr.len, &pong) < 0)
                r = proto_error(e, "malformed pong");
        else if (ret)
                *ret = pong;
        proto_frame_free(&f);
        return r;
}

/* ---- exec ---- */

typedef struct TxFrame {
        uint8_t hdr[PROTO_HDR_SIZE];
        const uint8_t *data;
        size_t len, off; /* off counts header + data bytes sent */
} TxFrame;

typedef struct ExecIo {
        int fd;
        const AgentExecIn *in;
        AgentExecOut *out;
        /* tx */
        TxFrame tx;
        bool tx_busy, tx_done; /* a frame is in flight / nothing more to send */
        size_t stdin_off;
        bool eof_queued;
        /* rx */
        uint8_t hdr[PROTO_HDR_SIZE];
        size_t hdr_have, pay_have;
        ProtoHdr h;
        uint8_t *payload; /* PROTO_MAX_DATA: the largest frame accepted during exec */
        bool done;
} ExecIo;

static void tx_queue(ExecIo *io, unsigned type, const uint8_t *data, size_t len)
{
        proto_hdr_pack(io->tx.hdr, type, (uint32_t)len);
        io->tx.data = data;
        io->tx.len = len;
        io->tx.off = 0;
        io->tx_busy = true;
}

/* Picks the next frame to send once the previous one is out. */
static void tx_next(ExecIo *io)
{
        size_t left = io->in->stdin_len - io->stdin_off;
        if (left > 0) {
                size_t n = MIN(left, (size_t)PROTO_MAX_DATA);
                tx_queue(io, PROTO_STDIN, io->in->stdin_data + io->stdin_off, n);
                io->stdin_off += n;
        } else if (!io->eof_queued) {
                tx_queue(io, PROTO_STDIN_EOF, NULL, 0);
                io->eof_queued = true;
        } else {
                io->tx_done = true;
        }
}

static int tx_pump(ExecIo *io)
{
        while (!io->tx_done) {
                if (!io->tx_busy) {
                        tx_next(io);
                        continue;
                }
                TxFrame *t = &io->tx;
                struct iovec iov[2];
                int n = 0;
                if (t->off < PROTO_HDR_SIZE)
                        iov[n++] = (struct iovec){t->hdr + t->off, PROTO_HDR_SIZE - t->off};
                size_t doff = t->off > PROTO_HDR_SIZE ? t->off - PROTO_HDR_SIZE : 0;
                if (t->len > doff)
                        iov[n++] = (struct iovec){(void *)(t->data + doff), t->len - doff};
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
                ssize_t w = sendmsg(io->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN)
                        return 0;
                if (w < 0) {
                        /* the agent stopped reading (the program exited early): keep
                         * reading, its EXIT decides */
                        io->tx_done = true;
                        return 0;
                }
                t->off += (size_t)w;
                if (t->off == PROTO_HDR_SIZE + t->len)
                        io->tx_busy = false;
        }
        return 0;
}

static int on_output(ExecIo *io, Err *e)
{
        Buf *b = io->h.type == PROTO_STDOUT ? &io->out->out : &io->out->err;
        if (buf_append(b, io->payload, io->h.len) < 0)
                return err_set(e, ENOMEM, "out of memory for the exec's output");
        return 0;
}

static int on_exit_frame(ExecIo *io, Err *e)
{
        if (proto_exit_unpack(io->payload, io->h.len, &io->out->exit) < 0)
                return proto_error(e, "malformed exit record");
        io->done = true;
        return 0;
}

static int on_error_frame(ExecIo *io, Err *e)
{
        uint32_t errnum;
        const char *msg;
        size_t n;
        if (proto_error_unpack(io->payload, io->h.len, &errnum, &msg, &n) < 0)
                return proto_error(e, "malformed error frame");
        char text[512];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof(text); i++) /* guest text: printable only */
                text[o++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
        text[o] = 0;
        if (errnum == 0 || errnum > 4095)
                errnum = EIO;
        return err_set(e, (int)errnum, "agent: %s", o ? text : strerror((int)errnum));
}

static int (*const exec_handlers[_PROTO_TYPE_MAX])(ExecIo *io, Err *e) = {
        [PROTO_STDOUT] = on_output,
        [PROTO_STDERR] = on_output,
        [PROTO_EXIT] = on_exit_frame,
        [PROTO_ERROR] = on_error_frame,
};

static int rx_header(ExecIo *io, Err *e)
{
        if (proto_hdr_parse(io->hdr, &io->h) < 0)
                return proto_error(e, "bad frame header");
        if (!exec_handlers[io->h.type]) {
                char what[64];
                snprintf(what, sizeof(what), "unexpected %s frame during exec",
                         proto_type_name(io->h.type));
                return proto_error(e, what);
        }
        io->pay_have = 0;
        return 0;
}

/* Reads what the socket has; dispatches complete frames. */
static int rx_pump(ExecIo *io, Err *e)
{
        while (!io->done) {
                bool in_hdr = io->hdr_have < PROTO_HDR_SIZE;
                uint8_t *dst = in_hdr ? io->hdr + io->hdr_have : io->payload + io->pay_have;
                size_t want = in_hdr ? PROTO_HDR_SIZE - io->hdr_have : io->h.len - io->pay_have;
                if (want > 0) {
                        ssize_t n = recv(io->fd, dst, want, MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN)
                                return 0;
                        if (n < 0 && errno != ECONNRESET)
                                return err_set(e, errno, "agent connection: %s", strerror(errno));
                        if (n <= 0)
                                return proto_error(e, "connection closed before the exit record");
                        if (in_hdr) {
                                io->hdr_have += (size_t)n;
                                if (io->hdr_have == PROTO_HDR_SIZE && rx_header(io, e) < 0)
                                        return -EPROTO;
                                continue;
                        }
                        io->pay_have += (size_t)n;
                }
                if (io->hdr_have == PROTO_HDR_SIZE && io->pay_have == io->h.len) {
                        int r = exec_handlers[io->h.type](io, e);
                        if (r < 0)
                                return r;
                        io->hdr_have = 0;
                }
        }
        return 0;
}

/* Best effort: a KILL only fits between frames. */
static void send_kill(ExecIo *io)
{
        if (io->tx_busy && io->tx.off > 0)
                return;
        uint8_t hdr[PROTO_HDR_SIZE];
        proto_hdr_pack(hdr, PROTO_KILL, 0);
        ssize_t _unused_ w = send(io->fd, hdr, sizeof(hdr), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int exec_loop(ExecIo *io, int64_t deadline_ms, uint32_t budget_ms, Err *e)
{
        while (!io->done) {
                int r = tx_pump(io);
                if (r < 0)
                        return r;
                struct pollfd p[2] = {
                        {.fd = io->fd, .events = POLLIN | (io->tx_done ? 0 : POLLOUT)},
                        {.fd = io->in->abort_fd, .events = POLLIN},
                };
                r = poll(p, 2, deadline_left(deadline_ms));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return err_set(e, errno, "agent connection: poll: %s", strerror(errno));
                if (p[1].revents)
                        return err_set(e, EHOSTDOWN, "the VM is gone");
                if (r == 0) {
                        send_kill(io);
                        return err_set(e, ETIMEDOUT, "agent did not answer within %u ms", budget_ms);
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        r = rx_pump(io, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int agent_exec(int fd, const AgentExecIn *in, AgentExecOut *ret, Err *e)
{
        const ProtoExec *x = in->exec;
        _cleanup_free_ uint8_t *req = NULL;
        size_t req_len = 0;
        int r = proto_exec_encode(x, &req, &req_len);
        if (r < 0)
                return err_set(e, r == -E2BIG ? E2BIG : -r, "exec request too large for the agent");
        r = fd_nonblock(fd, true);
        if (r < 0)
                return err_set(e, -r, "agent connection: %s", strerror(-r));
        AgentExecOut out = {0};
        buf_init(&out.out, x->stdout_cap);
        buf_init(&out.err, x->stderr_cap);
        _cleanup_free_ uint8_t *payload = malloc(PROTO_MAX_DATA);
        if (!payload)
                return err_set(e, ENOMEM, "out of memory");
        ExecIo io = {.fd = fd, .in = in, .out = &out, .payload = payload};
        tx_queue(&io, PROTO_EXEC, req, req_len);
        uint32_t budget = x->timeout_ms + EXEC_AGENT_GRACE_MS;
        r = exec_loop(&io, now_ms() + budget, budget, e);
        if (r < 0) {
                agent_exec_out_free(&out);
                return r;
        }
        out.stdout_truncated = out.out.dropped > 0 || (out.exit.flags & EXIT_F_STDOUT_TRUNC);
        out.stderr_truncated = out.err.dropped > 0 || (out.exit.flags & EXIT_F_STDERR_TRUNC);
        *ret = out;
        return 0;
}

void agent_exec_out_free(AgentExecOut *o)
{
        buf_free(&o->out);
        buf_free(&o->err);
}
