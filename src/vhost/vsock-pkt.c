/* vsock-pkt.c — see vsock-pkt.h. Header layout (virtio 1.2 §5.10.6, packed, LE):
 * src_cid 0, dst_cid 8, src_port 16, dst_port 20, len 24, type 28, op 30, flags 32,
 * buf_alloc 36, fwd_cnt 40. */
#include "vsock-pkt.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "shared/cleanup.h"
#include "vhost-limits.h"

#define GET(raw, off, bits)                                                                        \
        ({                                                                                         \
                uint##bits##_t _v;                                                                 \
                memcpy(&_v, (raw) + (off), sizeof(_v));                                            \
                le##bits##toh(_v);                                                                 \
        })
#define PUT(raw, off, bits, val)                                                                   \
        do {                                                                                       \
                uint##bits##_t _v = htole##bits(val);                                              \
                memcpy((raw) + (off), &_v, sizeof(_v));                                            \
        } while (0)

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], VsockHdr *h)
{
        h->src_cid = GET(raw, 0, 64);
        h->dst_cid = GET(raw, 8, 64);
        h->src_port = GET(raw, 16, 32);
        h->dst_port = GET(raw, 20, 32);
        h->len = GET(raw, 24, 32);
        h->type = GET(raw, 28, 16);
        h->op = GET(raw, 30, 16);
        h->flags = GET(raw, 32, 32);
        h->buf_alloc = GET(raw, 36, 32);
        h->fwd_cnt = GET(raw, 40, 32);
}

void vsock_hdr_encode(const VsockHdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
        PUT(raw, 0, 64, h->src_cid);
        PUT(raw, 8, 64, h->dst_cid);
        PUT(raw, 16, 32, h->src_port);
        PUT(raw, 20, 32, h->dst_port);
        PUT(raw, 24, 32, h->len);
        PUT(raw, 28, 16, h->type);
        PUT(raw, 30, 16, h->op);
        PUT(raw, 32, 32, h->flags);
        PUT(raw, 36, 32, h->buf_alloc);
        PUT(raw, 40, 32, h->fwd_cnt);
}

static const char *const op_names[VSOCK_OP_MAX] = {
        [VSOCK_OP_INVALID] = "INVALID",   [VSOCK_OP_REQUEST] = "REQUEST",
        [VSOCK_OP_RESPONSE] = "RESPONSE", [VSOCK_OP_RST] = "RST",
        [VSOCK_OP_SHUTDOWN] = "SHUTDOWN", [VSOCK_OP_RW] = "RW",
        [VSOCK_OP_CREDIT_UPDATE] = "CREDIT_UPDATE", [VSOCK_OP_CREDIT_REQUEST] = "CREDIT_REQUEST",
};

const char *vsock_op_name(uint16_t op) { return op < VSOCK_OP_MAX ? op_names[op] : "UNKNOWN"; }

PktVerdict vsock_pkt_check(const VsockHdr *h, uint64_t guest_cid, uint64_t payload_avail)
{
        if (h->src_cid != guest_cid || h->dst_cid != VSOCK_CID_HOST)
                return PKT_DROP;
        if (h->op == VSOCK_OP_RST)
                return PKT_ACCEPT; /* never answered; unknown keys are ignored later */
        if (h->type != VSOCK_TYPE_STREAM || h->op == VSOCK_OP_INVALID || h->op >= VSOCK_OP_MAX)
                return PKT_RST;
        if (h->op != VSOCK_OP_RW && h->len != 0)
                return PKT_RST;
        if (h->len > VSOCK_MAX_PAYLOAD || h->len > payload_avail)
                return PKT_RST;
        if (h->op == VSOCK_OP_SHUTDOWN && (h->flags & ~VSOCK_SHUTDOWN_ALL))
                return PKT_RST;
        return PKT_ACCEPT;
}

/* Next blank-separated word of [*p, end): returns its length, advances *p past it. */
static size_t next_word(const char **p, const char *end, const char **word)
{
        while (*p < end && (**p == ' ' || **p == '\t'))
                (*p)++;
        *word = *p;
        while (*p < end && **p != ' ' && **p != '\t')
                (*p)++;
        return (size_t)(*p - *word);
}

static int parse_u32(const char *s, size_t n, uint32_t *ret)
{
        if (n == 0 || n > 10)
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

int vsock_connect_parse(const char *line, size_t len, uint32_t *ret_port)
{
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (memchr(line, '\0', len) || memchr(line, '\r', len))
                return -EINVAL;
        const char *p = line, *end = line + len, *w;
        size_t n = next_word(&p, end, &w);
        if (n != 7 || strncasecmp(w, "connect", 7) != 0)
                return -EINVAL;
        n = next_word(&p, end, &w);
        uint32_t port;
        if (parse_u32(w, n, &port) < 0)
                return -EINVAL;
        if (next_word(&p, end, &w) != 0)
                return -EINVAL;
        *ret_port = port;
        return 0;
}

void credit_init(Credit *c, uint32_t buf_alloc) { *c = (Credit){.buf_alloc = buf_alloc}; }

void credit_peer_update(Credit *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
        c->peer_buf_alloc = buf_alloc;
        c->peer_fwd_cnt = fwd_cnt;
}

uint32_t credit_peer_free(const Credit *c)
{
        uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
        return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void credit_tx(Credit *c, uint32_t n) { c->tx_cnt += n; }

uint32_t credit_buffered(const Credit *c) { return c->rx_cnt - c->fwd_cnt; }

int credit_rx(Credit *c, uint32_t n)
{
        if (n > c->buf_alloc - credit_buffered(c))
                return -ENOBUFS;
        c->rx_cnt += n;
        return 0;
}

void credit_fwd(Credit *c, uint32_t n) { c->fwd_cnt += n; }

bool credit_update_due(const Credit *c, uint32_t low)
{
        uint32_t seen_used = c->rx_cnt - c->last_fwd_sent; /* what the guest thinks is used */
        uint32_t seen_free = seen_used >= c->buf_alloc ? 0 : c->buf_alloc - seen_used;
        return c->fwd_cnt != c->last_fwd_sent && seen_free < low;
}

void credit_sent(Credit *c) { c->last_fwd_sent = c->fwd_cnt; }
