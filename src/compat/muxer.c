/* muxer.c — see muxer.h. Every connection holds two sockets and, once relaying, two 64 KiB
 * buffers; reads and writes are non-blocking and done once per poll round so no peer can
 * starve the others. A CONNECT line is read with MSG_PEEK up to its '\n' only, so nothing of
 * the byte stream after it is consumed early. Never logs. */
#include "muxer.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100 /* after EMFILE: let closes free fds before accepting again */

typedef struct Pipe {
        uint8_t *buf;
        size_t head, len;
        bool eof;  /* the source reached EOF */
        bool shut; /* the sink was shut down for writing */
} Pipe;

typedef enum { CONN_HANDSHAKE, CONN_RELAY } ConnState;

typedef struct Conn {
        ConnState state;
        bool dead;
        int host_fd, guest_fd;
        int64_t deadline_ms; /* CONN_HANDSHAKE */
        char line[COMPAT_VSOCK_CONNECT_LINE_MAX];
        size_t line_len;
        uint32_t host_port;
        Pipe up;   /* host -> guest */
        Pipe down; /* guest -> host */
} Conn;

struct Muxer {
        int listen_fd;
        MuxerOpenPort open_port;
        void *ctx;
        Conn *conns[COMPAT_VSOCK_MAX_CONNECTIONS];
        unsigned n;
        unsigned polled; /* connections covered by the last muxer_pollfds() */
        uint32_t last_port;
        uint64_t total;
        int64_t accept_paused_until;
};

/* ---- pure helpers ---- */

static bool parse_u32(const char *s, uint32_t *ret)
{
        uint64_t v = 0;
        if (*s == '+') /* Rust's u32::from_str takes a leading '+' */
                s++;
        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
                if (v > UINT32_MAX)
                        return false;
        }
        *ret = (uint32_t)v;
        return true;
}

int muxer_parse_connect(const char *line, size_t len, uint32_t *ret_port)
{
        static const char ws[] = " \t\n\v\f\r";
        char buf[COMPAT_VSOCK_CONNECT_LINE_MAX + 1];
        char *save = NULL;
        if (len > COMPAT_VSOCK_CONNECT_LINE_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (line[i] == 0 || (unsigned char)line[i] >= 0x80)
                        return -EINVAL;
        memcpy(buf, line, len);
        buf[len] = 0;
        const char *kw = strtok_r(buf, ws, &save);
        if (!kw || strcasecmp(kw, "connect") != 0)
                return -EINVAL;
        const char *port = strtok_r(NULL, ws, &save);
        if (!port || !parse_u32(port, ret_port))
                return -EINVAL;
        return 0;
}

uint32_t muxer_next_port(uint32_t last, bool (*in_use)(void *ctx, uint32_t port), void *ctx)
{
        /* at most COMPAT_VSOCK_MAX_CONNECTIONS ports are taken, so this ends quickly */
        for (unsigned i = 0; i <= COMPAT_VSOCK_MAX_CONNECTIONS; i++) {
                last = ((last + 1) & ~(1u << 31)) | (1u << 30);
                if (!in_use || !in_use(ctx, last))
                        break;
        }
        return last;
}

/* ---- connections ---- */

static void conn_free(Conn *c)
{
        if (!c)
                return;
        if (c->host_fd >= 0)
                close(c->host_fd);
        if (c->guest_fd >= 0)
                close(c->guest_fd);
        free(c->up.buf);
        free(c->down.buf);
        free(c);
}

static bool port_in_use(void *ctx, uint32_t port)
{
        Muxer *m = ctx;
        for (unsigned i = 0; i < m->n; i++)
                if (m->conns[i]->state == CONN_RELAY && m->conns[i]->host_port == port)
                        return true;
        return false;
}

static size_t pipe_room(const Pipe *p) { return COMPAT_VSOCK_BUF - p->len; }

/* One read from fd into p; 0 also for "nothing now", -errno on a broken peer. */
static int pipe_fill(Pipe *p, int fd)
{
        if (p->eof || pipe_room(p) == 0)
                return 0;
        if (p->head + p->len == COMPAT_VSOCK_BUF) {
                memmove(p->buf, p->buf + p->head, p->len);
                p->head = 0;
        }
        ssize_t n = read(fd, p->buf + p->head + p->len, COMPAT_VSOCK_BUF - p->head - p->len);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                p->eof = true;
        p->len += (size_t)n;
        return 0;
}

static int pipe_flush(Pipe *p, int fd)
{
        if (p->len == 0)
                return 0;
        ssize_t n = send(fd, p->buf + p->head, p->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        p->head += (size_t)n;
        p->len -= (size_t)n;
        if (p->len == 0)
                p->head = 0;
        return 0;
}

/* Half-close: once the source said EOF and everything was delivered, shut the sink. */
static void pipe_finish(Pipe *p, int fd)
{
        if (p->eof && p->len == 0 && !p->shut) {
                (void)shutdown(fd, SHUT_WR);
                p->shut = true;
        }
}

static void relay_step(Conn *c)
{
        int r = pipe_fill(&c->up, c->host_fd);
        if (r >= 0)
                r = pipe_fill(&c->down, c->guest_fd);
        if (r >= 0)
                r = pipe_flush(&c->up, c->guest_fd);
        if (r >= 0)
                r = pipe_flush(&c->down, c->host_fd);
        if (r < 0) { /* a reset on either side resets the pair */
                c->dead = true;
                return;
        }
        pipe_finish(&c->up, c->guest_fd);
        pipe_finish(&c->down, c->host_fd);
        if (c->up.shut && c->down.shut)
                c->dead = true;
}

static void conn_events(const Conn *c, short *host, short *guest)
{
        *host = *guest = 0;
        if (c->state == CONN_HANDSHAKE) {
                *host = POLLIN;
                return;
        }
        if (!c->up.eof && pipe_room(&c->up) > 0)
                *host |= POLLIN;
        if (c->down.len > 0)
                *host |= POLLOUT;
        if (!c->down.eof && pipe_room(&c->down) > 0)
                *guest |= POLLIN;
        if (c->up.len > 0)
                *guest |= POLLOUT;
}

static int start_relay(Muxer *m, Conn *c, int guest_fd)
{
        c->guest_fd = guest_fd;
        c->up.buf = malloc(COMPAT_VSOCK_BUF);
        c->down.buf = malloc(COMPAT_VSOCK_BUF);
        if (!c->up.buf || !c->down.buf)
                return -ENOMEM;
        c->host_port = muxer_next_port(m->last_port, port_in_use, m);
        char ok[32];
        int len = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
        /* a fresh socket's send buffer is empty: the line goes out whole or not at all */
        if (send(c->host_fd, ok, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len)
                return -EIO;
        m->last_port = c->host_port;
        c->state = CONN_RELAY;
        m->total++;
        return 0;
}

static void connect_guest(Muxer *m, Conn *c)
{
        uint32_t port;
        int fd = -1;
        if (muxer_parse_connect(c->line, c->line_len, &port) < 0 || !m->open_port ||
            m->open_port(m->ctx, port, &fd) < 0 || start_relay(m, c, fd) < 0)
                c->dead = true;
}

static void handshake_step(Muxer *m, Conn *c)
{
        char tmp[COMPAT_VSOCK_CONNECT_LINE_MAX];
        size_t want = sizeof(c->line) - c->line_len;
        ssize_t n = recv(c->host_fd, tmp, want, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                c->dead = true;
                return;
        }
        const char *nl = memchr(tmp, '\n', (size_t)n);
        size_t take = nl ? (size_t)(nl - tmp) + 1 : (size_t)n;
        if (recv(c->host_fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take) {
                c->dead = true;
                return;
        }
        c->line_len += take;
        /* like Firecracker, a line that fills the buffer without '\n' is parsed as is */
        if (nl || c->line_len == sizeof(c->line))
                connect_guest(m, c);
}

/* ---- the muxer ---- */

int muxer_new(int listen_fd, Muxer **ret)
{
        Muxer *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->listen_fd = listen_fd;
        m->last_port = COMPAT_VSOCK_HOST_PORT_FIRST - 1;
        *ret = m;
        return 0;
}

void muxer_set_opener(Muxer *m, MuxerOpenPort open_port, void *ctx)
{
        m->open_port = open_port;
        m->ctx = ctx;
}

unsigned muxer_count(const Muxer *m) { return m->n; }
uint64_t muxer_total(const Muxer *m) { return m->total; }

static struct pollfd slot(int fd, short events)
{
        return (struct pollfd){.fd = events ? fd : -1, .events = events};
}

size_t muxer_pollfds(Muxer *m, struct pollfd *pfds, size_t max, int64_t *deadline_ms)
{
        size_t k = 0;
        m->polled = 0;
        if (max < 1 + 2 * (size_t)m->n)
                return 0;
        bool paused = m->accept_paused_until > now_ms();
        pfds[k++] = slot(m->listen_fd, paused ? 0 : POLLIN);
        if (paused && (*deadline_ms < 0 || m->accept_paused_until < *deadline_ms))
                *deadline_ms = m->accept_paused_until;
        for (unsigned i = 0; i < m->n; i++) {
                const Conn *c = m->conns[i];
                short he, ge;
                conn_events(c, &he, &ge);
                pfds[k++] = slot(c->host_fd, he);
                pfds[k++] = slot(c->guest_fd, ge);
                if (c->state == CONN_HANDSHAKE && (*deadline_ms < 0 || c->deadline_ms < *deadline_ms))
                        *deadline_ms = c->deadline_ms;
        }
        m->polled = m->n;
        return k;
}

static void accept_new(Muxer *m)
{
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                m->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
                        return;
                }
                Conn *c = NULL;
                /* not started (Firecracker: no guest to ask) or full: close without a word */
                if (m->open_port && m->n < COMPAT_VSOCK_MAX_CONNECTIONS)
                        c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                *c = (Conn){.state = CONN_HANDSHAKE, .host_fd = fd, .guest_fd = -1,
                            .deadline_ms = now_ms() + COMPAT_VSOCK_CONNECT_DEADLINE_MS};
                m->conns[m->n++] = c;
        }
}

static void reap_dead(Muxer *m)
{
        unsigned k = 0;
        int64_t now = now_ms();
        for (unsigned i = 0; i < m->n; i++) {
                Conn *c = m->conns[i];
                if (c->state == CONN_HANDSHAKE && now >= c->deadline_ms)
                        c->dead = true;
                if (c->dead)
                        conn_free(c);
                else
                        m->conns[k++] = c;
        }
        m->n = k;
}

void muxer_dispatch(Muxer *m, const struct pollfd *pfds, size_t n)
{
        if (n == 0)
                return;
        for (unsigned i = 0; i < m->polled && 2 + 2 * (size_t)i < n; i++) {
                Conn *c = m->conns[i];
                short hr = pfds[1 + 2 * i].revents, gr = pfds[2 + 2 * i].revents;
                if (c->state == CONN_HANDSHAKE && hr)
                        handshake_step(m, c);
                else if (c->state == CONN_RELAY && (hr || gr))
                        relay_step(c);
        }
        m->polled = 0;
        reap_dead(m);
        if (pfds[0].revents & POLLIN)
                accept_new(m);
}

void muxer_free(Muxer *m)
{
        if (!m)
                return;
        for (unsigned i = 0; i < m->n; i++)
                conn_free(m->conns[i]);
        free(m);
}
