/* test-vhost-device.c — the whole backend (its thread, vhost-user, rings, muxer) driven
 * by a fake QEMU and a fake guest driver (fake-guest.c): hybrid CONNECT/OK, refusals and
 * timeouts, guest-initiated connections, half-close, credit both ways, hostile packets,
 * QMP-like stop/cont, device reset, front-end reconnect, the connection limit, and a
 * clean free. Waits are bounded upper limits, never timing assertions. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "fake-guest.h"
#include "shared/util.h"
#include "vhost-limits.h"
#include "vu-msg.h"

#define HOSTPORT0 1073741824u

static Fake F;
static uint32_t next_guest_port = 40000;

/* Host client CONNECTs to guest port; the fake guest accepts. Returns the client fd. */
static int open_conn(uint32_t port, uint32_t *ret_hostport)
{
        int fd = host_connect(F.uds);
        char line[64];
        snprintf(line, sizeof(line), "CONNECT %u\n", port);
        CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
        Pkt p;
        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p.h.op, VSOCK_OP_REQUEST);
        CHECK_EQ_INT(p.h.dst_port, port);
        CHECK_EQ_INT(p.h.src_cid, 2);
        CHECK_EQ_INT(p.h.dst_cid, FAKE_CID);
        CHECK_EQ_INT(p.h.type, 1);
        CHECK_EQ_INT(p.h.buf_alloc, VSOCK_CONN_BUF);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RESPONSE, port, p.h.src_port, 0, NULL, 0), 0);
        char expect[64];
        snprintf(expect, sizeof(expect), "OK %u\n", p.h.src_port);
        CHECK_EQ_INT(host_read_line(fd, line, sizeof(line)), strlen(expect));
        CHECK_STR(line, expect);
        *ret_hostport = p.h.src_port;
        return fd;
}

static void expect_op(uint16_t op, uint32_t src_port, uint32_t dst_port, Pkt *p)
{
        CHECK_EQ_INT(fake_recv(&F, p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p->h.op, op);
        CHECK_EQ_INT(p->h.src_port, src_port);
        CHECK_EQ_INT(p->h.dst_port, dst_port);
}

static void expect_eof(int fd)
{
        char c;
        CHECK_EQ_INT(read(fd, &c, 1), 0);
}

/* Closed by the backend while our bytes were unread: EOF or ECONNRESET (AF_UNIX). */
static void expect_closed(int fd)
{
        char c;
        ssize_t n = read(fd, &c, 1);
        CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void test_host_connect(void)
{
        uint32_t hp, gp = 1234;
        int fd = open_conn(gp, &hp);
        CHECK_EQ_INT(hp, HOSTPORT0); /* Firecracker's numbering starts at 2^30 */
        CHECK(write(fd, "hello", 5) == 5);
        Pkt p;
        expect_op(VSOCK_OP_RW, hp, gp, &p);
        CHECK(p.len == 5 && memcmp(p.data, "hello", 5) == 0);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, gp, hp, 0, "world", 5), 0);
        char buf[16] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof(buf)), 5);
        CHECK_STR(buf, "world");

        /* guest shuts its sending side: the host reads EOF and can still write */
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_SHUTDOWN, gp, hp, VSOCK_SHUTDOWN_SEND, NULL, 0), 0);
        expect_eof(fd);
        CHECK(write(fd, "more", 4) == 4);
        expect_op(VSOCK_OP_RW, hp, gp, &p);
        CHECK(p.len == 4 && memcmp(p.data, "more", 4) == 0);
        /* host closes: the guest hears SHUTDOWN, answers RST */
        close(fd);
        expect_op(VSOCK_OP_SHUTDOWN, hp, gp, &p);
        CHECK(p.h.flags & VSOCK_SHUTDOWN_SEND);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, gp, hp, 0, NULL, 0), 0);
        /* the connection is gone: a late packet is answered with RST */
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, gp, hp, 0, "x", 1), 0);
        expect_op(VSOCK_OP_RST, hp, gp, &p);
}

static void test_guest_close(void)
{
        uint32_t hp, gp = next_guest_port++;
        int fd = open_conn(1234, &hp);
        (void)gp;
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, 1234, hp, 0, "bye", 3), 0);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_SHUTDOWN, 1234, hp, VSOCK_SHUTDOWN_ALL, NULL, 0), 0);
        Pkt p;
        expect_op(VSOCK_OP_RST, hp, 1234, &p); /* delivered, then the orderly RST */
        char buf[8] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof(buf)), 3);
        expect_eof(fd);
        close(fd);

        fd = open_conn(1234, &hp); /* host writes, then closes: data first, then SHUTDOWN */
        CHECK(write(fd, "last", 4) == 4);
        close(fd);
        expect_op(VSOCK_OP_RW, hp, 1234, &p);
        CHECK(p.len == 4 && memcmp(p.data, "last", 4) == 0);
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(p.h.flags, VSOCK_SHUTDOWN_ALL);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
}

static void test_refused_and_timeout(void)
{
        int fd = host_connect(F.uds);
        CHECK(write(fd, "connect 99\n", 11) == 11);
        Pkt p;
        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p.h.op, VSOCK_OP_REQUEST);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 99, p.h.src_port, 0, NULL, 0), 0);
        expect_eof(fd); /* closed without an OK line */
        close(fd);

        fd = host_connect(F.uds); /* the guest never answers: RST + close after 2 s */
        CHECK(write(fd, "CONNECT 77\n", 11) == 11);
        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p.h.op, VSOCK_OP_REQUEST);
        uint32_t hp = p.h.src_port;
        expect_op(VSOCK_OP_RST, hp, 77, &p);
        expect_eof(fd);
        close(fd);
}

static void test_bad_commands(void)
{
        const char *bad[] = {"HELLO 52\n", "CONNECT\n", "CONNECT 52 53\n",
                             "CONNECT 123456789012345678901234567890\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int fd = host_connect(F.uds);
                CHECK(write(fd, bad[i], strlen(bad[i])) == (ssize_t)strlen(bad[i]));
                expect_closed(fd);
                close(fd);
        }
        /* split across writes is fine; bytes after the newline stay for the guest */
        int fd = host_connect(F.uds);
        CHECK(write(fd, "CONN", 4) == 4);
        usleep(50000);
        CHECK(write(fd, "ECT 1234\nearly", 14) == 14);
        Pkt p;
        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p.h.op, VSOCK_OP_REQUEST);
        uint32_t hp = p.h.src_port;
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RESPONSE, 1234, hp, 0, NULL, 0), 0);
        char line[32];
        host_read_line(fd, line, sizeof(line));
        CHECK(strncmp(line, "OK ", 3) == 0);
        expect_op(VSOCK_OP_RW, hp, 1234, &p);
        CHECK(p.len == 5 && memcmp(p.data, "early", 5) == 0);
        close(fd);
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
}

static void test_guest_connect(void)
{
        char path[160];
        snprintf(path, sizeof(path), "%s_5000", F.uds);
        int lfd;
        CHECK_EQ_INT(unix_listen(path, 4, &lfd), 0);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_REQUEST, 3333, 5000, 0, NULL, 0), 0);
        Pkt p;
        expect_op(VSOCK_OP_RESPONSE, 5000, 3333, &p);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(write(fd, "ping", 4) == 4);
        expect_op(VSOCK_OP_RW, 5000, 3333, &p);
        CHECK(p.len == 4 && memcmp(p.data, "ping", 4) == 0);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, 3333, 5000, 0, "pong", 4), 0);
        char buf[8] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof(buf)), 4);
        CHECK_STR(buf, "pong");
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 3333, 5000, 0, NULL, 0), 0);
        expect_eof(fd);
        close(fd);
        close(lfd);
        unlink(path);
        /* nobody listens on _5001: the guest's connect() is refused with RST */
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_REQUEST, 3334, 5001, 0, NULL, 0), 0);
        expect_op(VSOCK_OP_RST, 5001, 3334, &p);
}

/* A packet that must be answered with RST, to prove nothing came before it. */
static void probe(uint32_t port)
{
        Pkt p;
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, port, 9, 0, "?", 1), 0);
        expect_op(VSOCK_OP_RST, 9, port, &p);
}

static void test_hostile_packets(void)
{
        VsockHdr h = {.src_cid = 4, .dst_cid = 2, .src_port = 1, .dst_port = 2, .type = 1,
                      .op = VSOCK_OP_REQUEST, .buf_alloc = 4096};
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, VSOCK_HDR_SIZE), 0); /* spoofed: dropped */
        h.src_cid = FAKE_CID;
        h.dst_cid = 7;
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, VSOCK_HDR_SIZE), 0); /* not for us */
        h.dst_cid = 2;
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, 20), 0); /* shorter than a header */
        probe(100);
        Pkt p;
        h.type = 2; /* seqpacket */
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, VSOCK_HDR_SIZE), 0);
        expect_op(VSOCK_OP_RST, 2, 1, &p);
        h.type = 1;
        h.op = 42;
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, VSOCK_HDR_SIZE), 0);
        expect_op(VSOCK_OP_RST, 2, 1, &p);
        h.op = VSOCK_OP_RST; /* for nothing: ignored, never answered */
        CHECK_EQ_INT(fake_send_raw(&F, &h, NULL, 0, VSOCK_HDR_SIZE), 0);
        probe(101);

        uint32_t hp;
        int fd = open_conn(1234, &hp); /* a length past the chain kills the connection */
        h = (VsockHdr){.src_cid = FAKE_CID, .dst_cid = 2, .src_port = 1234, .dst_port = hp,
                       .len = 100, .type = 1, .op = VSOCK_OP_RW, .buf_alloc = 262144};
        CHECK_EQ_INT(fake_send_raw(&F, &h, "0123456789", 10, VSOCK_HDR_SIZE), 0);
        expect_op(VSOCK_OP_RST, hp, 1234, &p);
        expect_eof(fd);
        close(fd);
        fd = open_conn(1234, &hp); /* so does a second REQUEST for a live connection */
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_REQUEST, 1234, hp, 0, NULL, 0), 0);
        expect_op(VSOCK_OP_RST, hp, 1234, &p);
        expect_eof(fd);
        close(fd);
}

static void test_hostile_rings(void)
{
        /* random descriptors and headers: bad chains are skipped, odd packets dropped or
         * answered, and the backend keeps consuming (each round waits for it) */
        CHECK_EQ_INT(fake_tx_garbage(&F, 300, 1, true), 0);
        CHECK_EQ_INT(fake_tx_garbage(&F, 100, 2, false), 0);
        fake_rx_drain(&F);
        probe(102);
        /* an avail index 1000 entries ahead: the ring is corrupt and stops being served,
         * until the driver resets the device */
        fake_tx_corrupt(&F);
        usleep(100000);
        CHECK_EQ_INT(fake_device_reset(&F), 0);
        probe(103);
        uint32_t hp;
        int fd = open_conn(1234, &hp);
        close(fd);
        Pkt p;
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
}

static void test_credit_host_to_guest(void)
{
        static char big[20000], got[20000];
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char)('a' + i % 23);
        F.buf_alloc = 8192;
        uint32_t hp;
        int fd = open_conn(1234, &hp);
        CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
        size_t have = 0;
        for (uint32_t round = 1; have < sizeof(big) && round <= 3; round++) {
                Pkt p;
                while (have < MIN(sizeof(big), 8192u * round)) {
                        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
                        if (p.h.op != VSOCK_OP_RW)
                                break;
                        memcpy(got + have, p.data, p.len);
                        have += p.len;
                }
                CHECK_EQ_INT(have, MIN(sizeof(big), 8192u * round)); /* never past credit */
                if (have == sizeof(big))
                        break;
                expect_op(VSOCK_OP_CREDIT_REQUEST, hp, 1234, &p);
                F.fwd_cnt = (uint32_t)have; /* the guest application read it all */
                CHECK_EQ_INT(fake_send(&F, VSOCK_OP_CREDIT_UPDATE, 1234, hp, 0, NULL, 0), 0);
        }
        CHECK(memcmp(big, got, sizeof(big)) == 0);
        F.buf_alloc = 262144;
        F.fwd_cnt = 0;
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
        expect_eof(fd);
        close(fd);
}

static void test_credit_guest_to_host(void)
{
        static char chunk[65536];
        uint32_t hp;
        int fd = open_conn(1234, &hp);
        memset(chunk, 'z', sizeof(chunk));
        /* the client does not read: the socket fills, then our buffer; we offer credit
         * back only as bytes leave, and RST a guest that ignores buf_alloc */
        bool rst = false, credit_update = false;
        for (int i = 0; i < 24 && !rst; i++) {
                CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, 1234, hp, 0, chunk, sizeof(chunk)), 0);
                Pkt p;
                while (fake_recv(&F, &p, 20) == 0) {
                        rst |= p.h.op == VSOCK_OP_RST;
                        credit_update |= p.h.op == VSOCK_OP_CREDIT_UPDATE;
                }
        }
        CHECK(rst);
        CHECK(credit_update);
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0)
                total += (size_t)n;
        CHECK(total > 0 && total % sizeof(chunk) != 1);
        close(fd);
}

static void test_stop_cont(void)
{
        uint32_t hp, base[2];
        int fd = open_conn(1234, &hp);
        CHECK_EQ_INT(fake_stop_rings(&F, base), 0);
        CHECK_EQ_INT(base[0], F.rx.used_seen); /* everything consumed was returned */
        CHECK_EQ_INT(base[1], F.tx.avail_idx);
        CHECK(write(fd, "during", 6) == 6); /* waits while the rings are stopped */
        usleep(50000);
        CHECK_EQ_INT(fake_driver_ok(&F, (uint16_t)base[0], (uint16_t)base[1]), 0); /* cont */
        CHECK(write(fd, "after", 5) == 5);
        char got[32] = {0};
        size_t have = 0;
        while (have < 11) {
                Pkt p;
                CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
                if (p.h.op != VSOCK_OP_RW)
                        break;
                memcpy(got + have, p.data, p.len);
                have += p.len;
        }
        CHECK_STR(got, "duringafter");
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RW, 1234, hp, 0, "alive", 5), 0);
        char buf[8] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof(buf)), 5);
        CHECK_STR(buf, "alive");
        close(fd);
        Pkt p;
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
}

static void test_reconnect(void)
{
        uint32_t hp;
        int fd = open_conn(1234, &hp);
        fake_frontend_close(&F); /* QEMU gone: connections die, the listener stays */
        expect_eof(fd);
        close(fd);
        fd = host_connect(F.uds); /* waits for the guest */
        CHECK(write(fd, "CONNECT 1234\n", 13) == 13);
        usleep(50000);
        CHECK_EQ_INT(fake_frontend_connect(&F), 0); /* a new QEMU, same CID */
        Pkt p;
        CHECK_EQ_INT(fake_recv(&F, &p, FAKE_WAIT_MS), 0);
        CHECK_EQ_INT(p.h.op, VSOCK_OP_REQUEST);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RESPONSE, 1234, p.h.src_port, 0, NULL, 0), 0);
        char line[32];
        host_read_line(fd, line, sizeof(line));
        CHECK(strncmp(line, "OK ", 3) == 0);
        close(fd);
        hp = p.h.src_port;
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);

        /* a guest device reset (rings restart at 0) also drops connections */
        fd = open_conn(1234, &hp);
        uint32_t base[2];
        CHECK_EQ_INT(fake_stop_rings(&F, base), 0);
        fake_frontend_close(&F);
        expect_eof(fd);
        close(fd);
        CHECK_EQ_INT(fake_frontend_connect(&F), 0);
}

static void test_hostile_frontend(void)
{
        uint8_t junk[8] = {0};
        /* a payload size over the limit: the backend drops us and takes a new front-end */
        CHECK_EQ_INT(fake_vu(&F, VU_SET_FEATURES, 1, junk, 8, NULL, 0, NULL, 0), 0);
        uint32_t hdr[3] = {VU_GET_FEATURES, 1, 100000};
        CHECK(write(F.vu, hdr, 12) == 12);
        char c;
        struct pollfd pf = {.fd = F.vu, .events = POLLIN};
        CHECK(poll(&pf, 1, FAKE_WAIT_MS) == 1 && read(F.vu, &c, 1) == 0);
        fake_frontend_close(&F);
        CHECK_EQ_INT(fake_frontend_connect(&F), 0);
        uint32_t hp;
        int fd = open_conn(1234, &hp);
        close(fd);
        Pkt p;
        expect_op(VSOCK_OP_SHUTDOWN, hp, 1234, &p);
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_RST, 1234, hp, 0, NULL, 0), 0);
}

static void test_limit(void)
{
        struct rlimit rl = {8192, 8192};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                printf("connection limit: skipped (RLIMIT_NOFILE)\n");
                return;
        }
        static int fds[VSOCK_MAX_CONNS];
        for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) /* held in the CONNECT phase */
                CHECK((fds[i] = host_connect(F.uds)) >= 0);
        int extra = host_connect(F.uds);
        expect_eof(extra); /* accepted and closed at once */
        close(extra);
        Pkt p; /* a guest connect at the limit is refused too */
        CHECK_EQ_INT(fake_send(&F, VSOCK_OP_REQUEST, 3335, 5002, 0, NULL, 0), 0);
        expect_op(VSOCK_OP_RST, 5002, 3335, &p);
        for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
                close(fds[i]);
}

static int count_fds(void)
{
        int n = 0;
        for (int fd = 0; fd < 8192; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

static void run(void)
{
        int fds_before = count_fds();
        CHECK_EQ_INT(fake_start(&F), 0);
        test_host_connect();
        test_guest_close();
        test_refused_and_timeout();
        test_bad_commands();
        test_guest_connect();
        test_hostile_packets();
        test_hostile_rings();
        test_credit_host_to_guest();
        test_credit_guest_to_host();
        test_stop_cont();
        test_reconnect();
        test_hostile_frontend();
        test_limit();
        struct stat st;
        char vhost_path[128], uds[128];
        strcpy(vhost_path, F.vhost_path);
        strcpy(uds, F.uds);
        fake_frontend_close(&F);
        vhost_vsock_free(F.v);
        F.v = NULL;
        CHECK(stat(vhost_path, &st) < 0);  /* unlinked */
        CHECK(stat(uds, &st) == 0);        /* kept: Firecracker never unlinks uds_path */
        fake_stop(&F);
        CHECK_EQ_INT(count_fds(), fds_before);
}

TEST_MAIN(run())
