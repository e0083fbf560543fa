/* test-vhost-pkt.c — vsock packet headers (layout, verdicts), the hybrid CONNECT parser,
 * credit accounting (including u32 wrap-around) and the bounded byte FIFO. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../test.h"
#include "ringbuf.h"
#include "vhost-limits.h"
#include "vsock-pkt.h"

static void test_hdr(void)
{
        VsockHdr h = {.src_cid = 3, .dst_cid = 2, .src_port = 0x11223344, .dst_port = 52,
                      .len = 5, .type = 1, .op = VSOCK_OP_RW, .flags = 3,
                      .buf_alloc = 262144, .fwd_cnt = 0xdeadbeef};
        uint8_t raw[VSOCK_HDR_SIZE];
        vsock_hdr_encode(&h, raw);
        CHECK_EQ_INT(raw[0], 3);
        CHECK_EQ_INT(raw[8], 2);
        CHECK_EQ_INT(raw[16], 0x44);
        CHECK_EQ_INT(raw[19], 0x11);
        CHECK_EQ_INT(raw[20], 52);
        CHECK_EQ_INT(raw[24], 5);
        CHECK_EQ_INT(raw[28], 1);
        CHECK_EQ_INT(raw[30], VSOCK_OP_RW);
        CHECK_EQ_INT(raw[32], 3);
        CHECK_EQ_INT(raw[38], 4); /* 262144 = 0x40000 */
        CHECK_EQ_INT(raw[43], 0xde);
        VsockHdr d;
        memset(&d, 0xff, sizeof(d));
        vsock_hdr_decode(raw, &d);
        memset((uint8_t *)&d + 44, 0, sizeof(d) - 44); /* tail padding */
        memset((uint8_t *)&h + 44, 0, sizeof(h) - 44);
        CHECK(memcmp(&d, &h, sizeof(h)) == 0);
        CHECK_STR(vsock_op_name(VSOCK_OP_CREDIT_REQUEST), "CREDIT_REQUEST");
        CHECK_STR(vsock_op_name(99), "UNKNOWN");
}

static PktVerdict verdict(uint64_t src, uint64_t dst, uint16_t type, uint16_t op, uint32_t len,
                          uint32_t flags, uint64_t avail)
{
        VsockHdr h = {.src_cid = src, .dst_cid = dst, .type = type, .op = op, .len = len,
                      .flags = flags};
        return vsock_pkt_check(&h, 3, avail);
}

static void test_verdicts(void)
{
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_REQUEST, 0, 0, 0), PKT_ACCEPT);
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_RW, 100, 0, 100), PKT_ACCEPT);
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_SHUTDOWN, 0, 3, 0), PKT_ACCEPT);
        CHECK_EQ_INT(verdict(4, 2, 1, VSOCK_OP_RW, 0, 0, 0), PKT_DROP);   /* spoofed source */
        CHECK_EQ_INT(verdict(3, 5, 1, VSOCK_OP_REQUEST, 0, 0, 0), PKT_DROP); /* not for host */
        CHECK_EQ_INT(verdict(3, 1, 1, VSOCK_OP_RST, 0, 0, 0), PKT_DROP);
        CHECK_EQ_INT(verdict(3, 2, 2, VSOCK_OP_REQUEST, 0, 0, 0), PKT_RST); /* seqpacket */
        CHECK_EQ_INT(verdict(3, 2, 2, VSOCK_OP_RST, 0, 0, 0), PKT_ACCEPT); /* never answered */
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_INVALID, 0, 0, 0), PKT_RST);
        CHECK_EQ_INT(verdict(3, 2, 1, 8, 0, 0, 0), PKT_RST);
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_RW, 101, 0, 100), PKT_RST); /* past the chain */
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_RW, VSOCK_MAX_PAYLOAD + 1, 0, 1u << 20), PKT_RST);
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_REQUEST, 4, 0, 4), PKT_RST); /* payload on ctl */
        CHECK_EQ_INT(verdict(3, 2, 1, VSOCK_OP_SHUTDOWN, 0, 4, 0), PKT_RST);
}

static int parse(const char *s, uint32_t *port)
{
        return vsock_connect_parse(s, strlen(s), port);
}

static void test_connect_parser(void)
{
        uint32_t p = 0;
        CHECK_EQ_INT(parse("CONNECT 52", &p), 0);
        CHECK_EQ_INT(p, 52);
        CHECK_EQ_INT(parse("connect 1234", &p), 0);
        CHECK_EQ_INT(p, 1234);
        CHECK_EQ_INT(parse("CoNnEcT\t7", &p), 0);
        CHECK_EQ_INT(parse("  CONNECT   9  ", &p), 0);
        CHECK_EQ_INT(p, 9);
        CHECK_EQ_INT(parse("CONNECT 52\r", &p), 0);
        CHECK_EQ_INT(parse("CONNECT 4294967295", &p), 0);
        CHECK(p == 4294967295u);
        CHECK_EQ_INT(parse("CONNECT 0", &p), 0);
        CHECK_EQ_INT(parse("CONNECT 4294967296", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT 00000000052", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT ", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT -1", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT +1", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT 5a", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT 52 extra", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECTX 52", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNEC 52", &p), -EINVAL);
        CHECK_EQ_INT(parse("", &p), -EINVAL);
        CHECK_EQ_INT(parse("CONNECT 5\r2", &p), -EINVAL);
        CHECK_EQ_INT(vsock_connect_parse("CONNECT 5\0002", 11, &p), -EINVAL);
}

static void test_credit(void)
{
        Credit c;
        credit_init(&c, 1000);
        CHECK_EQ_INT(credit_peer_free(&c), 0); /* nothing heard from the peer yet */
        credit_peer_update(&c, 500, 0);
        CHECK_EQ_INT(credit_peer_free(&c), 500);
        credit_tx(&c, 300);
        CHECK_EQ_INT(credit_peer_free(&c), 200);
        credit_tx(&c, 200);
        CHECK_EQ_INT(credit_peer_free(&c), 0);
        credit_peer_update(&c, 500, 100); /* it forwarded 100 */
        CHECK_EQ_INT(credit_peer_free(&c), 100);
        credit_peer_update(&c, 200, 100); /* it shrank its buffer below what is in flight */
        CHECK_EQ_INT(credit_peer_free(&c), 0);
        credit_peer_update(&c, 500, 600); /* claims more forwarded than sent: nonsense */
        CHECK_EQ_INT(credit_peer_free(&c), 0);

        c.tx_cnt = 0xFFFFFF00u; /* wrap-around */
        credit_peer_update(&c, 1000, 0xFFFFFE00u);
        CHECK_EQ_INT(credit_peer_free(&c), 744);
        credit_tx(&c, 0x200);
        CHECK_EQ_INT(c.tx_cnt, 0x100);
        CHECK_EQ_INT(credit_peer_free(&c), 232);

        /* our side: the guest must stay within buf_alloc */
        CHECK_EQ_INT(credit_rx(&c, 600), 0);
        CHECK_EQ_INT(credit_rx(&c, 401), -ENOBUFS);
        CHECK_EQ_INT(credit_rx(&c, 400), 0);
        CHECK_EQ_INT(credit_buffered(&c), 1000);
        CHECK(!credit_update_due(&c, 300)); /* nothing forwarded yet: nothing to offer */
        credit_fwd(&c, 100);
        CHECK(credit_update_due(&c, 300)); /* guest thinks 0 free; 100 are */
        credit_sent(&c);
        CHECK(!credit_update_due(&c, 300));
        CHECK_EQ_INT(credit_rx(&c, 100), 0);
        credit_fwd(&c, 900);
        CHECK(credit_update_due(&c, 300));
        credit_sent(&c);
        CHECK_EQ_INT(credit_buffered(&c), 100);
        CHECK(!credit_update_due(&c, 300)); /* the guest sees 900 free */

        c.rx_cnt = c.fwd_cnt = c.last_fwd_sent = 0xFFFFFFF0u; /* wrap on our side */
        CHECK_EQ_INT(credit_rx(&c, 1000), 0);
        credit_fwd(&c, 1000);
        CHECK_EQ_INT(credit_buffered(&c), 0);
        CHECK(credit_update_due(&c, 300));
}

static void test_ringbuf(void)
{
        RingBuf b;
        ringbuf_init(&b, 10);
        CHECK(b.data == NULL);
        struct iovec iov[2] = {{"abcd", 4}, {"efgh", 4}};
        CHECK_EQ_INT(ringbuf_push(&b, iov, 2, 2), 0); /* "cdefgh" */
        CHECK_EQ_INT(b.len, 6);
        CHECK_EQ_INT(ringbuf_push(&b, iov, 2, 0), -ENOBUFS); /* 8 > 4 free: nothing taken */
        CHECK_EQ_INT(b.len, 6);
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK_EQ_INT(ringbuf_send(&b, sv[0]), 6);
        CHECK_EQ_INT(ringbuf_push(&b, iov, 2, 0), 0); /* empty again: starts at 0 */
        CHECK_EQ_INT(ringbuf_send(&b, sv[0]), 8);
        CHECK_EQ_INT(ringbuf_push(&b, iov, 1, 0), 0);
        b.head = 8; /* force a wrapped layout: 2 bytes at the end, 2 at the start */
        memcpy(b.data + 8, "WX", 2);
        memcpy(b.data, "YZ", 2);
        CHECK_EQ_INT(ringbuf_send(&b, sv[0]), 4);
        char got[32] = {0};
        CHECK_EQ_INT(read(sv[1], got, sizeof(got)), 18);
        CHECK_STR(got, "cdefghabcdefghWXYZ");
        close(sv[1]);
        CHECK_EQ_INT(ringbuf_push(&b, iov, 1, 0), 0);
        CHECK_EQ_INT(ringbuf_send(&b, sv[0]), -EPIPE); /* no SIGPIPE */
        close(sv[0]);
        ringbuf_free(&b);
        CHECK(b.data == NULL && b.len == 0 && b.cap == 10);
}

TEST_MAIN({
        test_hdr();
        test_verdicts();
        test_connect_parser();
        test_credit();
        test_ringbuf();
})
