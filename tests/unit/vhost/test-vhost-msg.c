/* test-vhost-msg.c — the vhost-user message parser: good messages, short and oversized
 * payloads, wrong fd counts, bad flags, unknown requests, the reply format; and that no
 * received fd leaks on any path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../test.h"
#include "shared/util.h"
#include "vu-msg.h"

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n - 1;
}

/* Sends header + payload (payload_len bytes of it) with nfds eventfds attached. */
static void send_msg(int fd, uint32_t req, uint32_t flags, uint32_t size, const void *payload,
                     size_t payload_len, unsigned nfds)
{
        uint8_t buf[4096];
        VuHdr h = {req, flags, size};
        memcpy(buf, &h, 12);
        if (payload_len)
                memcpy(buf + 12, payload, payload_len);
        struct iovec iov = {buf, 12 + payload_len};
        union {
                char b[CMSG_SPACE(sizeof(int) * 16)];
                struct cmsghdr a;
        } ctl;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        int fds[16];
        for (unsigned i = 0; i < nfds; i++)
                fds[i] = eventfd(0, EFD_CLOEXEC);
        if (nfds) {
                mh.msg_control = ctl.b;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        CHECK(sendmsg(fd, &mh, 0) == (ssize_t)(12 + payload_len));
        for (unsigned i = 0; i < nfds; i++)
                close(fds[i]);
}

/* Receives and checks one message; returns the check result (or the recv error). */
static int roundtrip(int rx, VuMsg *m)
{
        int r = vu_msg_recv(rx, m);
        if (r >= 0)
                r = vu_msg_check(m);
        vu_msg_close_fds(m);
        return r;
}

static void test_good(int tx, int rx)
{
        VuMsg m;
        send_msg(tx, VU_GET_FEATURES, 1, 0, NULL, 0, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);
        CHECK_EQ_INT(m.hdr.request, VU_GET_FEATURES);
        CHECK_EQ_INT(vu_msg_recv(rx, &m), -EAGAIN);

        uint64_t feat = 1ull << 32;
        send_msg(tx, VU_SET_FEATURES, 1, 8, &feat, 8, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);
        CHECK(m.p.u64 == feat);

        VuMemTable mt = {.nregions = 2};
        mt.regions[0] = (VuMemRegion){0, 0x1000, 0x10000, 0};
        mt.regions[1] = (VuMemRegion){0x2000, 0x1000, 0x20000, 0x1000};
        send_msg(tx, VU_SET_MEM_TABLE, 1 | VU_FLAG_NEED_REPLY, 8 + 64, &mt, 8 + 64, 2);
        CHECK_EQ_INT(vu_msg_recv(rx, &m), 0);
        CHECK_EQ_INT(vu_msg_check(&m), 0);
        CHECK_EQ_INT(m.nfds, 2);
        CHECK(m.p.mem.regions[1].mmap_offset == 0x1000);
        int taken = vu_msg_take_fd(&m, 1);
        CHECK(taken >= 0 && m.fds[1] == -1);
        CHECK(fcntl(taken, F_GETFD) & FD_CLOEXEC);
        close(taken);
        vu_msg_close_fds(&m);

        uint64_t kick = 1; /* ring 1, fd attached */
        send_msg(tx, VU_SET_VRING_KICK, 1, 8, &kick, 8, 1);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);
        kick = 1 | VU_VRING_NOFD;
        send_msg(tx, VU_SET_VRING_CALL, 1, 8, &kick, 8, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);

        uint8_t cfg[20] = {0, 0, 0, 0, 8, 0, 0, 0};
        send_msg(tx, VU_GET_CONFIG, 1, 20, cfg, 20, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);
}

static void test_bad_fds(int tx, int rx)
{
        VuMsg m;
        VuMemTable mt = {.nregions = 2};
        send_msg(tx, VU_SET_MEM_TABLE, 1, 8 + 64, &mt, 8 + 64, 1);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        mt.nregions = 1;
        send_msg(tx, VU_SET_MEM_TABLE, 1, 8 + 32, &mt, 8 + 32, 3);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);

        uint64_t v = 0; /* no NOFD bit but no fd */
        send_msg(tx, VU_SET_VRING_KICK, 1, 8, &v, 8, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        v = VU_VRING_NOFD; /* NOFD bit but an fd */
        send_msg(tx, VU_SET_VRING_CALL, 1, 8, &v, 8, 1);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        v = 0;
        send_msg(tx, VU_SET_VRING_ERR, 1, 8, &v, 8, 2);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        v = 1ull << 9; /* unknown bits in a vring file message */
        send_msg(tx, VU_SET_VRING_CALL, 1, 8, &v, 8, 1);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, VU_GET_FEATURES, 1, 0, NULL, 0, 1); /* fd on a message without any */
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, VU_GET_FEATURES, 1, 0, NULL, 0, 9); /* more than we take */
        CHECK_EQ_INT(roundtrip(rx, &m), -EMSGSIZE);
}

static void test_bad_sizes(int tx, int rx)
{
        VuMsg m;
        uint8_t zero[512] = {0};
        send_msg(tx, VU_SET_FEATURES, 1, 4, zero, 4, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, VU_SET_VRING_ADDR, 1, 32, zero, 32, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        VuMemTable mt = {.nregions = 9}; /* more regions than the protocol allows */
        send_msg(tx, VU_SET_MEM_TABLE, 1, 8, &mt, 8, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        mt.nregions = 2; /* size says one region */
        send_msg(tx, VU_SET_MEM_TABLE, 1, 8 + 32, &mt, 8 + 32, 2);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        uint32_t cfg[5] = {0, 4, 0, 0, 0}; /* config size 4 but 8 data bytes */
        send_msg(tx, VU_GET_CONFIG, 1, 20, cfg, 20, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, VU_GET_FEATURES, 2, 0, NULL, 0, 0); /* version 2 */
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, VU_GET_FEATURES, 1 | VU_FLAG_REPLY, 0, NULL, 0, 0); /* a reply */
        CHECK_EQ_INT(roundtrip(rx, &m), -EBADMSG);
        send_msg(tx, 40, 1, 16, zero, 16, 0); /* unknown, but the stream stays in sync */
        CHECK_EQ_INT(roundtrip(rx, &m), -EOPNOTSUPP);
        send_msg(tx, VU_GET_FEATURES, 1, 0, NULL, 0, 0);
        CHECK_EQ_INT(roundtrip(rx, &m), 0);
}

static void test_short_and_oversized(void)
{
        int sv[2];
        VuMsg m;
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fd_nonblock(sv[1], true);
        uint8_t zero[8] = {0};
        send_msg(sv[0], VU_SET_FEATURES, 1, 8, zero, 4, 0); /* 4 of 8 bytes, then EOF */
        close(sv[0]);
        CHECK_EQ_INT(roundtrip(sv[1], &m), -EPIPE);
        CHECK_EQ_INT(vu_msg_recv(sv[1], &m), -EPIPE);
        close(sv[1]);

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fd_nonblock(sv[1], true);
        send_msg(sv[0], VU_SET_MEM_TABLE, 1, 4096, NULL, 0, 2);
        CHECK_EQ_INT(roundtrip(sv[1], &m), -EMSGSIZE);
        send_msg(sv[0], VU_SET_FEATURES, 1, 8, zero, 4, 0); /* peer stays, bytes never come */
        CHECK_EQ_INT(roundtrip(sv[1], &m), -ETIMEDOUT);
        close(sv[0]);
        close(sv[1]);
}

static void test_reply(int tx, int rx)
{
        uint64_t val = 0x140000000ull;
        CHECK_EQ_INT(vu_msg_reply(rx, VU_GET_FEATURES, &val, 8), 0);
        uint8_t buf[64];
        CHECK_EQ_INT(read(tx, buf, sizeof(buf)), 20);
        VuHdr h;
        memcpy(&h, buf, 12);
        CHECK_EQ_INT(h.request, VU_GET_FEATURES);
        CHECK_EQ_INT(h.flags, 0x5);
        CHECK_EQ_INT(h.size, 8);
        CHECK(memcmp(buf + 12, &val, 8) == 0);
        CHECK(vu_msg_has_reply(VU_GET_VRING_BASE) && !vu_msg_has_reply(VU_SET_MEM_TABLE));
        CHECK_STR(vu_msg_name(VU_SET_VRING_ADDR), "SET_VRING_ADDR");
        CHECK_STR(vu_msg_name(999), "UNKNOWN");
}

TEST_MAIN({
        int before = count_fds();
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fd_nonblock(sv[1], true);
        test_good(sv[0], sv[1]);
        test_bad_fds(sv[0], sv[1]);
        test_bad_sizes(sv[0], sv[1]);
        test_reply(sv[0], sv[1]);
        close(sv[0]);
        close(sv[1]);
        test_short_and_oversized();
        CHECK_EQ_INT(count_fds(), before);
})
