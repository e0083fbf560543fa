/* vsock-pkt.h — virtio-vsock packets and the hybrid CONNECT line: header encode/decode,
 * the verdict on a guest packet (accept, drop, answer with RST), the CONNECT parser and
 * credit accounting. Pure functions: no I/O, no allocation, nothing about connections. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HDR_SIZE 44u
#define VSOCK_CID_HOST 2u
#define VSOCK_TYPE_STREAM 1u

enum {
        VSOCK_OP_INVALID = 0,
        VSOCK_OP_REQUEST = 1,
        VSOCK_OP_RESPONSE = 2,
        VSOCK_OP_RST = 3,
        VSOCK_OP_SHUTDOWN = 4,
        VSOCK_OP_RW = 5,
        VSOCK_OP_CREDIT_UPDATE = 6,
        VSOCK_OP_CREDIT_REQUEST = 7,
        VSOCK_OP_MAX = 8,
};
#define VSOCK_SHUTDOWN_RCV 1u  /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2u /* the sender will send no more */
#define VSOCK_SHUTDOWN_ALL 3u

typedef struct VsockHdr {
        uint64_t src_cid, dst_cid;
        uint32_t src_port, dst_port, len;
        uint16_t type, op;
        uint32_t flags, buf_alloc, fwd_cnt;
} VsockHdr;

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], VsockHdr *h);
void vsock_hdr_encode(const VsockHdr *h, uint8_t raw[VSOCK_HDR_SIZE]);
const char *vsock_op_name(uint16_t op);

typedef enum { PKT_ACCEPT, PKT_DROP, PKT_RST } PktVerdict;
/* What to do with a packet from the guest, given the payload bytes its chain holds
 * after the header. Wrong CIDs are dropped (they may be spoofed); a malformed packet of
 * a plausible connection gets an RST (never in answer to an RST). */
PktVerdict vsock_pkt_check(const VsockHdr *h, uint64_t guest_cid, uint64_t payload_avail);

/* Parses "CONNECT <port>\n" (keyword case-insensitive, words separated by blanks, an
 * optional '\r', decimal u32 port). line excludes the '\n'. -EINVAL if malformed. */
int vsock_connect_parse(const char *line, size_t len, uint32_t *ret_port);

/* Credit accounting of one connection (virtio 1.2 §5.10.6.3), wrapping u32 counters. */
typedef struct Credit {
        uint32_t buf_alloc;     /* our receive buffer (guest->host) */
        uint32_t rx_cnt;        /* guest payload bytes received */
        uint32_t fwd_cnt;       /* ... of which written to the host socket */
        uint32_t last_fwd_sent; /* fwd_cnt the guest last heard from us */
        uint32_t peer_buf_alloc, peer_fwd_cnt;
        uint32_t tx_cnt;        /* payload bytes sent to the guest */
} Credit;

void credit_init(Credit *c, uint32_t buf_alloc);
/* Updates the peer's view from any packet of the connection. */
void credit_peer_update(Credit *c, uint32_t buf_alloc, uint32_t fwd_cnt);
/* Bytes we may still send to the guest (0 if it reports nonsense). */
uint32_t credit_peer_free(const Credit *c);
void credit_tx(Credit *c, uint32_t n);
/* Accounts n received bytes; -ENOBUFS if they overrun the buffer we advertised. */
int credit_rx(Credit *c, uint32_t n);
void credit_fwd(Credit *c, uint32_t n);
uint32_t credit_buffered(const Credit *c); /* received, not yet forwarded */
/* True when the guest's view of our free space is under low and we have freed some. */
bool credit_update_due(const Credit *c, uint32_t low);
void credit_sent(Credit *c); /* a packet carrying fwd_cnt went out */
