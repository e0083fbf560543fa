/* test-compat-muxer.c — the hybrid-vsock muxer: CONNECT-line parsing, host port numbering,
 * and the muxer itself on a real Unix socket with a fake guest (socketpairs): OK lines,
 * refusals without a word, a line split over two writes, bytes sent right after the line,
 * half-close both ways, and 4 MiB each way through the bounded buffers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat/muxer.h"
#include "shared/cleanup.h"
#include "shared/util.h"
#include "test.h"

#define BIG (4u << 20)

static void test_parse(void)
{
        static const struct {
                const char *line;
                int r;
                uint32_t port;
        } cases[] = {
                {"CONNECT 52\n", 0, 52},
                {"connect 52\n", 0, 52},
                {"CoNnEcT 1024\n", 0, 1024},
                {"CONNECT 52", 0, 52},
                {"  CONNECT   52   extra words\n", 0, 52},
                {"\tCONNECT\t52\r\n", 0, 52},
                {"CONNECT +52\n", 0, 52},
                {"CONNECT 0\n", 0, 0},
                {"CONNECT 4294967295\n", 0, UINT32_MAX},
                {"CONNECT 4294967296\n", -EINVAL, 0},
                {"CONNECT -1\n", -EINVAL, 0},
                {"CONNECT 5x\n", -EINVAL, 0},
                {"CONNECT +\n", -EINVAL, 0},
                {"CONNECT\n", -EINVAL, 0},
                {"CONNECTX 52\n", -EINVAL, 0},
                {"LISTEN 52\n", -EINVAL, 0},
                {"\n", -EINVAL, 0},
                {"", -EINVAL, 0},
                {"CONNECT 52 \xc3\xa9\n", -EINVAL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t port = 12345;
                int r = muxer_parse_connect(cases[i].line, strlen(cases[i].line), &port);
                CHECK_EQ_INT(r, cases[i].r);
                if (r == 0)
                        CHECK_EQ_INT(port, cases[i].port);
        }
        uint32_t port;
        CHECK_EQ_INT(muxer_parse_connect("CONNECT 52\0\n", 12, &port), -EINVAL);
        char long_line[40];
        memset(long_line, ' ', sizeof(long_line));
        memcpy(long_line, "CONNECT 52", 10);
        CHECK_EQ_INT(muxer_parse_connect(long_line, 32, &port), 0);
        CHECK_EQ_INT(muxer_parse_connect(long_line, 33, &port), -EINVAL);
}

static bool in_use_set(void *ctx, uint32_t port)
{
        const uint32_t *set = ctx;
        for (; *set; set++)
                if (*set == port)
                        return true;
        return false;
}

static void test_ports(void)
{
        const uint32_t first = 1u << 30;
        CHECK_EQ_INT(muxer_next_port(first - 1, NULL, NULL), 1073741824u);
        CHECK_EQ_INT(muxer_next_port(first, NULL, NULL), 1073741825u);
        CHECK_EQ_INT(muxer_next_port(0x7fffffffu, NULL, NULL), first); /* wraps in [2^30, 2^31) */
        uint32_t used[] = {first, first + 1, 0};
        CHECK_EQ_INT(muxer_next_port(0x7fffffffu, in_use_set, used), first + 2);
        uint32_t p = first - 1;
        for (int i = 0; i < 5; i++)
                p = muxer_next_port(p, NULL, NULL);
        CHECK_EQ_INT(p, first + 4);
}

/* ---- the muxer on a real socket, its loop in a thread ---- */

typedef struct Rig {
        char dir[64], path[128];
        int listen_fd;
        Muxer *m;
        int stop[2];    /* main -> loop: stop */
        int guests[2];  /* loop -> main: the guest end of each accepted port-52 stream */
        pthread_t thread;
} Rig;

static int fake_open(void *ctx, uint32_t port, int *ret_fd)
{
        Rig *rig = ctx;
        int sp[2];
        if (port != 52)
                return -ECONNREFUSED;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        fd_nonblock(sp[0], true);
        if (write(rig->guests[1], &sp[1], sizeof(int)) != sizeof(int)) {
                close(sp[0]);
                close(sp[1]);
                return -EIO;
        }
        *ret_fd = sp[0];
        return 0;
}

static void *loop_main(void *arg)
{
        Rig *rig = arg;
        struct pollfd *pfds = calloc(MUXER_MAX_POLLFDS + 1, sizeof(*pfds));
        for (;;) {
                int64_t deadline = -1;
                size_t n = muxer_pollfds(rig->m, pfds, MUXER_MAX_POLLFDS, &deadline);
                pfds[n] = (struct pollfd){.fd = rig->stop[0], .events = POLLIN};
                if (poll(pfds, n + 1, deadline_left(deadline)) < 0 && errno != EINTR)
                        break;
                if (pfds[n].revents)
                        break;
                muxer_dispatch(rig->m, pfds, n);
        }
        free(pfds);
        return NULL;
}

static void rig_start(Rig *rig, bool started)
{
        CHECK(pipe2(rig->stop, O_CLOEXEC) == 0 && pipe2(rig->guests, O_CLOEXEC) == 0);
        CHECK(muxer_new(rig->listen_fd, &rig->m) == 0);
        muxer_set_opener(rig->m, started ? fake_open : NULL, rig);
        CHECK(pthread_create(&rig->thread, NULL, loop_main, rig) == 0);
}

static void rig_stop(Rig *rig)
{
        CHECK(write(rig->stop[1], "x", 1) == 1);
        pthread_join(rig->thread, NULL);
        muxer_free(rig->m);
        for (int i = 0; i < 2; i++) {
                close(rig->stop[i]);
                close(rig->guests[i]);
        }
}

static int host_connect(Rig *rig, const char *line)
{
        int fd = -1;
        CHECK(unix_connect(rig->path, &fd) == 0);
        if (fd >= 0 && line)
                CHECK(fd_write_all(fd, line, strlen(line), -1) == 0);
        return fd;
}

/* Reads the muxer's answer line: "" for a close without a word. */
static void read_answer(int fd, char *out, size_t size)
{
        size_t n = 0;
        int64_t deadline = now_ms() + 10000;
        while (n + 1 < size) {
                if (fd_wait_readable(fd, deadline) <= 0)
                        break;
                ssize_t k = read(fd, out + n, 1);
                if (k <= 0)
                        break;
                if (out[n++] == '\n')
                        break;
        }
        out[n] = 0;
}

static int next_guest(Rig *rig)
{
        int fd = -1;
        CHECK(fd_read_exact(rig->guests[0], &fd, sizeof(fd), now_ms() + 10000) == 0);
        return fd;
}

static void expect_refused(Rig *rig, const char *line)
{
        char ans[64];
        int fd = -1;
        CHECK(unix_connect(rig->path, &fd) == 0);
        /* the muxer may close before the line is written (not started): EPIPE is fine */
        if (line)
                (void)fd_write_all(fd, line, strlen(line), -1);
        read_answer(fd, ans, sizeof(ans));
        CHECK_STR(ans, "");
        close(fd);
}

static void test_not_started(Rig *rig)
{
        rig_start(rig, false);
        expect_refused(rig, "CONNECT 52\n");
        rig_stop(rig);
}

static void expect_bytes(int fd, const char *want)
{
        char buf[64] = {0};
        CHECK(fd_read_exact(fd, buf, strlen(want), now_ms() + 10000) == 0);
        CHECK_STR(buf, want);
}

static void test_exchange(Rig *rig)
{
        char ans[64];
        /* bytes right after the line belong to the stream, not to the handshake */
        int h = host_connect(rig, "CONNECT 52\nPING");
        read_answer(h, ans, sizeof(ans));
        CHECK_STR(ans, "OK 1073741824\n");
        int g = next_guest(rig);
        expect_bytes(g, "PING");
        CHECK(write(g, "PONG", 4) == 4);
        expect_bytes(h, "PONG");
        /* half-close host -> guest: the guest sees EOF, can still answer */
        CHECK(shutdown(h, SHUT_WR) == 0);
        char c;
        CHECK(fd_wait_readable(g, now_ms() + 10000) == 1 && read(g, &c, 1) == 0);
        CHECK(write(g, "BYE", 3) == 3);
        close(g);
        expect_bytes(h, "BYE");
        CHECK(fd_wait_readable(h, now_ms() + 10000) == 1 && read(h, &c, 1) == 0);
        close(h);
}

static void test_split_and_numbering(Rig *rig)
{
        char ans[64];
        int h = host_connect(rig, "conn");
        usleep(20 * 1000); /* let the muxer see half a line (correctness does not depend on it) */
        CHECK(fd_write_all(h, "ect 52\n", 7, -1) == 0);
        read_answer(h, ans, sizeof(ans));
        CHECK_STR(ans, "OK 1073741825\n");
        int g = next_guest(rig);
        /* the guest closes first: the host reads EOF */
        close(g);
        char c;
        CHECK(fd_wait_readable(h, now_ms() + 10000) == 1 && read(h, &c, 1) == 0);
        close(h);
        expect_refused(rig, "CONNECT 53\n");
        expect_refused(rig, "HELLO 52\n");
        expect_refused(rig, "CONNECT x\n");
        expect_refused(rig, "CONNECT 4294967296\n");
        expect_refused(rig, NULL); /* says nothing: closed at the CONNECT deadline */
}

/* 4 MiB each way at once, through 64 KiB buffers, checked byte by byte. */
static void pump(int a, int b)
{
        static uint8_t out[65536], in[65536];
        size_t sent_a = 0, sent_b = 0, got_a = 0, got_b = 0;
        fd_nonblock(a, true);
        fd_nonblock(b, true);
        int64_t deadline = now_ms() + 60000;
        while ((got_a < BIG || got_b < BIG) && now_ms() < deadline) {
                struct pollfd p[2] = {{.fd = a, .events = POLLIN | (sent_a < BIG ? POLLOUT : 0)},
                                      {.fd = b, .events = POLLIN | (sent_b < BIG ? POLLOUT : 0)}};
                if (poll(p, 2, 1000) <= 0)
                        continue;
                int fds[2] = {a, b};
                size_t *sent[2] = {&sent_a, &sent_b}, *got[2] = {&got_a, &got_b};
                for (int i = 0; i < 2; i++) {
                        if ((p[i].revents & POLLOUT) && *sent[i] < BIG) {
                                size_t n = MIN(sizeof(out), BIG - *sent[i]);
                                for (size_t k = 0; k < n; k++)
                                        out[k] = (uint8_t)((*sent[i] + k) * (i + 3));
                                ssize_t w = write(fds[i], out, n);
                                if (w > 0)
                                        *sent[i] += (size_t)w;
                        }
                        if (p[i].revents & POLLIN) {
                                ssize_t r = read(fds[i], in, sizeof(in));
                                /* bytes read on fds[i] were sent by the other side */
                                for (ssize_t k = 0; k < r; k++)
                                        if (in[k] != (uint8_t)((*got[i] + (size_t)k) * (1 - i + 3)))
                                                CHECK(!"corrupted byte");
                                if (r > 0)
                                        *got[i] += (size_t)r;
                        }
                }
        }
        CHECK_EQ_INT(got_a, BIG);
        CHECK_EQ_INT(got_b, BIG);
}

static void test_bulk(Rig *rig)
{
        char ans[64];
        int h = host_connect(rig, "CONNECT 52\n");
        read_answer(h, ans, sizeof(ans));
        CHECK_STR(ans, "OK 1073741826\n");
        int g = next_guest(rig);
        pump(h, g);
        close(h);
        close(g);
}

static void test_muxer(void)
{
        Rig rig = {0};
        snprintf(rig.dir, sizeof(rig.dir), "/tmp/ember-compat-muxer-XXXXXX");
        CHECK(mkdtemp(rig.dir) != NULL);
        snprintf(rig.path, sizeof(rig.path), "%s/v.sock", rig.dir);
        CHECK(unix_listen(rig.path, 128, &rig.listen_fd) == 0);
        fd_nonblock(rig.listen_fd, true);
        test_not_started(&rig);
        rig_start(&rig, true);
        test_exchange(&rig);
        test_split_and_numbering(&rig);
        test_bulk(&rig);
        rig_stop(&rig);
        close(rig.listen_fd);
        CHECK(rm_rf(rig.dir) == 0);
}

TEST_MAIN({
        test_parse();
        test_ports();
        test_muxer();
})
