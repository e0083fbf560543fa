/* virtq.h — one split virtqueue (virtio 1.x, little-endian) seen from the device side:
 * pop a descriptor chain as validated host segments, return it on the used ring, and
 * signal the driver. The guest is hostile: every index, address, length and chain walk
 * is checked, and ring fields are read once. No EVENT_IDX, no indirect descriptors. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vu-mem.h"

typedef struct VirtqSeg {
        uint8_t *ptr;
        uint32_t len;
} VirtqSeg;

/* A popped chain: device-readable segments first (nread), then writable ones. */
typedef struct VirtqChain {
        uint16_t head;
        unsigned nread, nseg;
        uint64_t read_len, write_len;
        VirtqSeg seg[VQ_MAX_CHAIN_SEGS];
} VirtqChain;

typedef struct Virtq {
        uint16_t num;                        /* 0 = not set */
        uint64_t desc_uva, avail_uva, used_uva;
        bool addr_set;
        uint8_t *desc, *avail, *used;        /* host pointers; NULL until translated */
        uint16_t last_avail, used_idx;
        int kick_fd, call_fd, err_fd;
        bool started, enabled, broken;
        bool saved_valid;                    /* last GET_VRING_BASE answer, for resets */
        uint16_t saved_base;
        unsigned unsignalled;                /* used entries not yet signalled */
        uint64_t bad_chains;
} Virtq;

void virtq_init(Virtq *q);
/* Closes the ring's fds and forgets everything but saved_base. */
void virtq_reset(Virtq *q);
/* (Re)computes host pointers from the user addresses; -EFAULT outside memory,
 * -EINVAL misaligned. Without an address or memory the pointers are cleared. */
int virtq_translate(Virtq *q, const VuMem *m);
bool virtq_ready(const Virtq *q);
/* 1 = a chain was popped into c, 0 = ring empty (or not ready), -EIO = the ring itself
 * is corrupt (q->broken is set). Bad chains (address outside memory, loop, indirect,
 * readable after writable, too many segments) are returned with length 0 and skipped. */
int virtq_pop(Virtq *q, const VuMem *m, VirtqChain *c);
/* Gives back the chain popped last (not yet pushed). */
void virtq_unpop(Virtq *q);
void virtq_push(Virtq *q, uint16_t head, uint32_t len);
/* Signals the call fd if entries were pushed and the driver did not suppress it. */
void virtq_signal(Virtq *q);

/* Copies between a chain and a flat buffer at byte offset off of its readable
 * (chain_read) or writable (chain_write) part; returns the bytes copied. */
size_t virtq_chain_read(const VirtqChain *c, size_t off, void *dst, size_t len);
size_t virtq_chain_write(const VirtqChain *c, size_t off, const void *src, size_t len);
/* Builds an iovec over [off, off+len) of the readable or writable part; returns the
 * number of entries (at most max); *ret_len gets the bytes covered. */
unsigned virtq_chain_iov(const VirtqChain *c, bool writable, size_t off, size_t len,
                         struct iovec *iov, unsigned max, size_t *ret_len);
