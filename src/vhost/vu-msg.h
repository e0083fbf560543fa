/* vu-msg.h — vhost-user messages on the wire: layouts, receiving one message with its
 * fds, checking it against the per-request rules (sizes, fd counts), and sending replies.
 * It knows nothing about the device; it never keeps an fd it was not asked to keep. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vhost-limits.h"

enum {
        VU_GET_FEATURES = 1,
        VU_SET_FEATURES = 2,
        VU_SET_OWNER = 3,
        VU_RESET_OWNER = 4,
        VU_SET_MEM_TABLE = 5,
        VU_SET_VRING_NUM = 8,
        VU_SET_VRING_ADDR = 9,
        VU_SET_VRING_BASE = 10,
        VU_GET_VRING_BASE = 11,
        VU_SET_VRING_KICK = 12,
        VU_SET_VRING_CALL = 13,
        VU_SET_VRING_ERR = 14,
        VU_GET_PROTOCOL_FEATURES = 15,
        VU_SET_PROTOCOL_FEATURES = 16,
        VU_GET_QUEUE_NUM = 17,
        VU_SET_VRING_ENABLE = 18,
        VU_GET_CONFIG = 24,
        VU_SET_CONFIG = 25,
        VU_REQ_MAX = 64, /* table size; higher codes are unknown */
};

#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD (1u << 8)
#define VU_HDR_SIZE 12u

typedef struct VuHdr {
        uint32_t request, flags, size;
} VuHdr;
typedef struct VuVringState {
        uint32_t index, num;
} VuVringState;
typedef struct VuVringAddr {
        uint32_t index, flags;
        uint64_t desc, used, avail, log; /* note the order: used before avail */
} VuVringAddr;
typedef struct VuMemRegion {
        uint64_t gpa, size, uva, mmap_offset;
} VuMemRegion;
typedef struct VuMemTable {
        uint32_t nregions, padding;
        VuMemRegion regions[VU_MAX_MEM_REGIONS];
} VuMemTable;
typedef struct VuConfig {
        uint32_t offset, size, flags;
        uint8_t data[VU_MAX_CONFIG];
} VuConfig;

typedef struct VuMsg {
        VuHdr hdr;
        union {
                uint64_t u64;
                VuVringState state;
                VuVringAddr addr;
                VuMemTable mem;
                VuConfig config;
                uint8_t raw[VU_MAX_PAYLOAD];
        } p;
        int fds[VU_MAX_FDS];
        unsigned nfds;
} VuMsg;

/* Receives one message (header with its SCM_RIGHTS fds, then the payload, which must
 * follow within VU_MSG_TIMEOUT_MS). -EAGAIN: nothing to read (non-blocking fd); -EPIPE:
 * the peer closed; -EMSGSIZE: payload over VU_MAX_PAYLOAD or too many fds. Received fds
 * are CLOEXEC and owned by m (vu_msg_close_fds) also on failure. */
int vu_msg_recv(int fd, VuMsg *m);
/* Checks version, payload size and fd count against the request's rules.
 * -EOPNOTSUPP: unknown request (payload read, stream in sync); -EBADMSG otherwise. */
int vu_msg_check(const VuMsg *m);
void vu_msg_close_fds(VuMsg *m);
/* Takes fd i out of m (the caller owns it afterwards). */
int vu_msg_take_fd(VuMsg *m, unsigned i);
/* Sends a reply: request code, flags exactly VERSION|REPLY, then size payload bytes. */
int vu_msg_reply(int fd, uint32_t request, const void *payload, uint32_t size);
/* Whether the request carries its own reply body (GET_*). */
int vu_msg_has_reply(uint32_t request);
const char *vu_msg_name(uint32_t request);
