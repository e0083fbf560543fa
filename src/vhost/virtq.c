/* virtq.c — split virtqueue device side (see virtq.h). Layout (virtio 1.1 §2.6):
 * desc[i] = {le64 addr, le32 len, le16 flags, le16 next} at 16*i; avail = {flags, idx,
 * ring[num]}; used = {flags, idx, {le32 id, le32 len}[num]}. Guest-shared fields are
 * read with single atomic loads so a racing guest cannot make us see two values. */
#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "vhost-fd.h"

#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u

static uint16_t ld16(const uint8_t *p) { return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED)); }
static uint32_t ld32(const uint8_t *p) { return le32toh(__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED)); }
static uint64_t ld64(const uint8_t *p) { return le64toh(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED)); }
static void st32(uint8_t *p, uint32_t v) { __atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED); }

void virtq_init(Virtq *q)
{
        *q = (Virtq){.kick_fd = -1, .call_fd = -1, .err_fd = -1};
}

void virtq_reset(Virtq *q)
{
        bool saved_valid = q->saved_valid;
        uint16_t saved = q->saved_base;
        fd_close_reset(&q->kick_fd);
        fd_close_reset(&q->call_fd);
        fd_close_reset(&q->err_fd);
        virtq_init(q);
        q->saved_valid = saved_valid;
        q->saved_base = saved;
}

static size_t avail_size(uint16_t num) { return 6 + 2 * (size_t)num; }
static size_t used_size(uint16_t num) { return 6 + 8 * (size_t)num; }

int virtq_translate(Virtq *q, const VuMem *m)
{
        q->desc = q->avail = q->used = NULL;
        if (!q->addr_set || q->num == 0 || !vu_mem_mapped(m))
                return 0;
        uint8_t *d = vu_mem_uva(m, q->desc_uva, 16 * (uint64_t)q->num);
        uint8_t *a = vu_mem_uva(m, q->avail_uva, avail_size(q->num));
        uint8_t *u = vu_mem_uva(m, q->used_uva, used_size(q->num));
        if (!d || !a || !u)
                return -EFAULT;
        if ((uintptr_t)d % 16 || (uintptr_t)a % 2 || (uintptr_t)u % 4)
                return -EINVAL;
        q->desc = d;
        q->avail = a;
        q->used = u;
        return 0;
}

bool virtq_ready(const Virtq *q)
{
        return q->started && q->enabled && !q->broken && q->desc;
}

/* Appends guest buffer [gpa, gpa+len) as host segments (split at region ends). */
static int chain_add(VirtqChain *c, const VuMem *m, uint64_t gpa, uint32_t len, bool w)
{
        if (gpa + len < gpa)
                return -EFAULT;
        while (len > 0) {
                uint64_t seg = len;
                uint8_t *p = vu_mem_gpa(m, gpa, &seg);
                if (!p)
                        return -EFAULT;
                if (c->nseg >= VQ_MAX_CHAIN_SEGS)
                        return -E2BIG;
                c->seg[c->nseg++] = (VirtqSeg){p, (uint32_t)seg};
                if (!w)
                        c->nread = c->nseg;
                gpa += seg;
                len -= (uint32_t)seg;
        }
        return 0;
}

static int chain_walk(const Virtq *q, const VuMem *m, uint16_t head, VirtqChain *c)
{
        c->head = head;
        c->nread = c->nseg = 0;
        c->read_len = c->write_len = 0;
        uint16_t i = head;
        for (unsigned n = 0;; n++) {
                if (n >= q->num)
                        return -ELOOP;
                const uint8_t *d = q->desc + 16 * (size_t)i;
                uint64_t addr = ld64(d);
                uint32_t len = ld32(d + 8);
                uint16_t flags = ld16(d + 12), next = ld16(d + 14);
                bool w = flags & VRING_DESC_F_WRITE;
                if ((flags & VRING_DESC_F_INDIRECT) || (!w && c->write_len > 0))
                        return -EINVAL;
                int r = chain_add(c, m, addr, len, w);
                if (r < 0)
                        return r;
                *(w ? &c->write_len : &c->read_len) += len;
                if (!(flags & VRING_DESC_F_NEXT))
                        return 0;
                if (next >= q->num)
                        return -EINVAL;
                i = next;
        }
}

int virtq_pop(Virtq *q, const VuMem *m, VirtqChain *c)
{
        while (virtq_ready(q)) {
                uint16_t avail_idx = le16toh(__atomic_load_n((uint16_t *)(q->avail + 2),
                                                             __ATOMIC_ACQUIRE));
                uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
                if (pending == 0)
                        return 0;
                if (pending > q->num) {
                        q->broken = true;
                        return -EIO;
                }
                uint16_t head = ld16(q->avail + 4 + 2 * (size_t)(q->last_avail & (q->num - 1)));
                if (head >= q->num) {
                        q->broken = true;
                        return -EIO;
                }
                q->last_avail++;
                if (chain_walk(q, m, head, c) >= 0)
                        return 1;
                q->bad_chains++;
                virtq_push(q, head, 0);
        }
        return 0;
}

void virtq_unpop(Virtq *q) { q->last_avail--; }

void virtq_push(Virtq *q, uint16_t head, uint32_t len)
{
        uint8_t *e = q->used + 4 + 8 * (size_t)(q->used_idx & (q->num - 1));
        st32(e, head);
        st32(e + 4, len);
        q->used_idx++;
        __atomic_store_n((uint16_t *)(q->used + 2), htole16(q->used_idx), __ATOMIC_RELEASE);
        q->unsignalled++;
}

void virtq_signal(Virtq *q)
{
        if (q->unsignalled == 0 || !q->avail)
                return;
        q->unsignalled = 0;
        /* used.idx store -> avail.flags load needs a full barrier: a seq_cst store then a
         * seq_cst load (not a fence, which -fsanitize=thread rejects) */
        __atomic_store_n((uint16_t *)(q->used + 2), htole16(q->used_idx), __ATOMIC_SEQ_CST);
        uint16_t flags = le16toh(__atomic_load_n((uint16_t *)q->avail, __ATOMIC_SEQ_CST));
        if ((flags & VRING_AVAIL_F_NO_INTERRUPT) || q->call_fd < 0)
                return;
        uint64_t one = 1;
        ssize_t n = write(q->call_fd, &one, sizeof(one));
        (void)n; /* EAGAIN: the counter is saturated, the driver will look anyway */
}

/* Cursor over the readable or writable part of a chain, from a byte offset. */
typedef struct ChainCur {
        const VirtqChain *c;
        unsigned s, e;
        size_t off, left;
} ChainCur;

static ChainCur chain_cur(const VirtqChain *c, bool writable, size_t off, size_t len)
{
        return (ChainCur){c, writable ? c->nread : 0, writable ? c->nseg : c->nread, off, len};
}

/* Next contiguous piece; false at the end. */
static bool chain_next(ChainCur *k, uint8_t **p, size_t *l)
{
        for (; k->s < k->e && k->left > 0; k->s++) {
                const VirtqSeg *g = &k->c->seg[k->s];
                if (k->off >= g->len) {
                        k->off -= g->len;
                        continue;
                }
                *p = g->ptr + k->off;
                *l = MIN(k->left, g->len - k->off);
                k->off = 0;
                k->left -= *l;
                k->s++;
                return true;
        }
        return false;
}

size_t virtq_chain_read(const VirtqChain *c, size_t off, void *dst, size_t len)
{
        ChainCur k = chain_cur(c, false, off, len);
        size_t done = 0, l;
        uint8_t *p;
        while (chain_next(&k, &p, &l)) {
                memcpy((uint8_t *)dst + done, p, l);
                done += l;
        }
        return done;
}

size_t virtq_chain_write(const VirtqChain *c, size_t off, const void *src, size_t len)
{
        ChainCur k = chain_cur(c, true, off, len);
        size_t done = 0, l;
        uint8_t *p;
        while (chain_next(&k, &p, &l)) {
                memcpy(p, (const uint8_t *)src + done, l);
                done += l;
        }
        return done;
}

unsigned virtq_chain_iov(const VirtqChain *c, bool writable, size_t off, size_t len,
                         struct iovec *iov, unsigned max, size_t *ret_len)
{
        ChainCur k = chain_cur(c, writable, off, len);
        unsigned n = 0;
        size_t done = 0, l;
        uint8_t *p;
        while (n < max && chain_next(&k, &p, &l)) {
                iov[n++] = (struct iovec){.iov_base = p, .iov_len = l};
                done += l;
        }
        *ret_len = done;
        return n;
}
