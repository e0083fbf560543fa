/* test-vhost-virtq.c — guest memory mapping and split-virtqueue handling against a fake
 * guest built in a memfd: translation, chains, wrap-around of the 16-bit indices, bad
 * addresses, loops, indirect descriptors, corrupt rings, signalling. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test.h"
#include "virtq.h"

/* Guest layout: region A = gpa [0, 512K) at file offset 0, region B = gpa [512K, 1M) at
 * file offset 512K (contiguous in gpa, not in QEMU's user addresses), then a hole. */
#define MEM_SIZE (1u << 20)
#define HALF (MEM_SIZE / 2)
#define UVA_A 0x7f0000000000ull
#define UVA_B 0x7f1000000000ull
#define DESC_GPA 0x1000u
#define AVAIL_GPA 0x3000u
#define USED_GPA 0x4000u

static uint8_t *guest; /* the test's own view of guest memory (gpa == file offset) */
static VuMem mem;

static void put16(uint64_t gpa, uint16_t v) { memcpy(guest + gpa, &v, 2); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(guest + gpa, &v, 4); }
static void put64(uint64_t gpa, uint64_t v) { memcpy(guest + gpa, &v, 8); }
static uint16_t get16(uint64_t gpa) { uint16_t v; memcpy(&v, guest + gpa, 2); return v; }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, guest + gpa, 4); return v; }

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
        uint64_t d = DESC_GPA + 16u * i;
        put64(d, addr);
        put32(d + 8, len);
        put16(d + 12, flags);
        put16(d + 14, next);
}

static void avail_push(uint16_t num, uint16_t head)
{
        uint16_t idx = get16(AVAIL_GPA + 2);
        put16(AVAIL_GPA + 4 + 2u * (idx % num), head);
        put16(AVAIL_GPA + 2, (uint16_t)(idx + 1));
}

static void setup_ring(Virtq *q, uint16_t num, uint16_t start)
{
        virtq_init(q);
        memset(guest + DESC_GPA, 0, USED_GPA + 0x2000 - DESC_GPA);
        q->num = num;
        q->desc_uva = UVA_A + DESC_GPA;
        q->avail_uva = UVA_A + AVAIL_GPA;
        q->used_uva = UVA_A + USED_GPA;
        q->addr_set = q->started = q->enabled = true;
        q->last_avail = q->used_idx = start;
        put16(AVAIL_GPA + 2, start);
        put16(USED_GPA + 2, start);
        CHECK_EQ_INT(virtq_translate(q, &mem), 0);
}

static void test_mem(int fd)
{
        VuMemRegion rg[2] = {{0, HALF, UVA_A, 0}, {HALF, HALF, UVA_B, HALF}};
        int fds[2] = {fd, fd};
        CHECK_EQ_INT(vu_mem_set(&mem, rg, fds, 2), 0);
        uint64_t len = 100;
        CHECK(vu_mem_gpa(&mem, 0x10, &len) != NULL && len == 100);
        len = 0x100;
        uint8_t *p = vu_mem_gpa(&mem, HALF - 0x10, &len);
        CHECK(p != NULL && len == 0x10); /* cut at the region end */
        len = 1;
        CHECK(vu_mem_gpa(&mem, MEM_SIZE, &len) == NULL);
        CHECK(vu_mem_uva(&mem, UVA_B + 8, 8) != NULL);
        CHECK(vu_mem_uva(&mem, UVA_B + HALF - 4, 8) == NULL); /* runs past its region */
        CHECK(vu_mem_uva(&mem, UVA_A - 1, 1) == NULL);
        p = vu_mem_gpa(&mem, HALF + 5, &(uint64_t){1});
        guest[HALF + 5] = 0x5a;
        CHECK(p && *p == 0x5a); /* shared mapping: the backend sees guest writes */

        VuMem bad = {.n = 0};
        VuMemRegion overlap[2] = {{0, HALF, UVA_A, 0}, {HALF - 1, 2, UVA_B, 0}};
        CHECK_EQ_INT(vu_mem_set(&bad, overlap, fds, 2), -EINVAL);
        VuMemRegion past_eof = {0, MEM_SIZE, UVA_A, 0x1000};
        CHECK_EQ_INT(vu_mem_set(&bad, &past_eof, fds, 1), -EINVAL);
        VuMemRegion wrap = {UINT64_MAX - 10, 0x1000, UVA_A, 0};
        CHECK_EQ_INT(vu_mem_set(&bad, &wrap, fds, 1), -EINVAL);
        VuMemRegion empty = {0, 0, UVA_A, 0};
        CHECK_EQ_INT(vu_mem_set(&bad, &empty, fds, 1), -EINVAL);
        CHECK_EQ_INT(vu_mem_set(&bad, rg, fds, 9), -E2BIG);
        CHECK(!vu_mem_mapped(&bad));
}

static void test_translate(void)
{
        Virtq q;
        setup_ring(&q, 8, 0);
        CHECK(virtq_ready(&q));
        q.desc_uva = UVA_A + DESC_GPA + 8; /* misaligned descriptor table */
        CHECK_EQ_INT(virtq_translate(&q, &mem), -EINVAL);
        CHECK(!virtq_ready(&q));
        q.desc_uva = UVA_A + HALF - 64; /* table runs out of its region */
        CHECK_EQ_INT(virtq_translate(&q, &mem), -EFAULT);
        VuMem none = {.n = 0};
        q.desc_uva = UVA_A + DESC_GPA;
        CHECK_EQ_INT(virtq_translate(&q, &none), 0);
        CHECK(!virtq_ready(&q));
}

static void test_chains(void)
{
        Virtq q;
        VirtqChain c;
        setup_ring(&q, 8, 0);
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 0); /* empty */
        /* header readable, payload readable across the region boundary, then writable */
        set_desc(0, 0x8000, 44, 1, 3);
        set_desc(3, HALF - 8, 16, 1, 5);
        set_desc(5, 0x9000, 100, 2, 0);
        memcpy(guest + HALF - 8, "0123456789abcdef", 16);
        avail_push(8, 0);
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 1);
        CHECK_EQ_INT(c.head, 0);
        CHECK_EQ_INT(c.nread, 3); /* 44 + 8 + 8: the middle buffer split in two */
        CHECK_EQ_INT(c.nseg, 4);
        CHECK_EQ_INT(c.read_len, 60);
        CHECK_EQ_INT(c.write_len, 100);
        char buf[32] = {0};
        CHECK_EQ_INT(virtq_chain_read(&c, 44 + 4, buf, 12), 12);
        CHECK_STR(buf, "456789abcdef");
        struct iovec iov[4];
        size_t got;
        CHECK_EQ_INT(virtq_chain_iov(&c, false, 40, 100, iov, 4, &got), 3);
        CHECK_EQ_INT(got, 20);
        CHECK_EQ_INT(virtq_chain_write(&c, 98, "xyz", 3), 2);
        CHECK(memcmp(guest + 0x9000 + 98, "xy", 2) == 0);
        virtq_push(&q, c.head, 7);
        CHECK_EQ_INT(get16(USED_GPA + 2), 1);
        CHECK_EQ_INT(get32(USED_GPA + 4), 0);
        CHECK_EQ_INT(get32(USED_GPA + 8), 7);

        avail_push(8, 0); /* unpop gives the same chain again */
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 1);
        virtq_unpop(&q);
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 1);
        CHECK_EQ_INT(c.head, 0);
        virtq_push(&q, c.head, 0);
}

static void test_wrap(void)
{
        Virtq q;
        VirtqChain c;
        setup_ring(&q, 4, 65534);
        for (uint16_t i = 0; i < 4; i++)
                set_desc(i, 0x8000 + 64u * i, 64, 2, 0);
        for (int round = 0; round < 3; round++) {
                for (uint16_t i = 0; i < 4; i++)
                        avail_push(4, i);
                for (uint16_t i = 0; i < 4; i++) {
                        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 1);
                        CHECK_EQ_INT(c.head, i);
                        virtq_push(&q, c.head, 10u + i);
                }
                CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 0);
        }
        CHECK_EQ_INT(q.last_avail, (uint16_t)(65534 + 12));
        CHECK_EQ_INT(get16(USED_GPA + 2), (uint16_t)(65534 + 12));
        /* the last entry written went to slot (65534 + 11) % 4 == 1 */
        CHECK_EQ_INT(get32(USED_GPA + 4 + 8 * 1), 3);
        CHECK_EQ_INT(get32(USED_GPA + 4 + 8 * 1 + 4), 13);
}

/* A bad chain is skipped with used length 0; the next good one still comes out. */
static void expect_bad(Virtq *q, uint16_t head)
{
        VirtqChain c;
        uint64_t bad = q->bad_chains;
        uint16_t used = get16(USED_GPA + 2);
        set_desc(7, 0x8000, 8, 0, 0);
        avail_push(q->num, head);
        avail_push(q->num, 7);
        CHECK_EQ_INT(virtq_pop(q, &mem, &c), 1);
        CHECK_EQ_INT(c.head, 7);
        CHECK_EQ_INT(q->bad_chains, bad + 1);
        CHECK_EQ_INT(get32(USED_GPA + 4 + 8u * (used % q->num)), head);
        CHECK_EQ_INT(get32(USED_GPA + 4 + 8u * (used % q->num) + 4), 0);
        virtq_push(q, c.head, 0);
}

static void test_bad_chains(void)
{
        Virtq q;
        setup_ring(&q, 8, 0);
        set_desc(0, MEM_SIZE + 0x1000, 16, 0, 0); /* outside guest memory */
        expect_bad(&q, 0);
        set_desc(0, MEM_SIZE - 8, 16, 0, 0); /* runs off the end */
        expect_bad(&q, 0);
        set_desc(0, UINT64_MAX - 4, 16, 0, 0); /* wraps */
        expect_bad(&q, 0);
        set_desc(0, 0x8000, 16, 1, 1); /* 0 -> 1 -> 0 ... */
        set_desc(1, 0x8000, 16, 1, 0);
        expect_bad(&q, 0);
        set_desc(0, 0x8000, 16, 1, 0); /* points at itself */
        expect_bad(&q, 0);
        set_desc(0, 0x8000, 16, 1, 8); /* next out of range */
        expect_bad(&q, 0);
        set_desc(0, 0x8000, 16, 4, 0); /* indirect (not offered) */
        expect_bad(&q, 0);
        set_desc(0, 0x8000, 16, 2 | 1, 1); /* writable, then readable */
        set_desc(1, 0x9000, 16, 0, 0);
        expect_bad(&q, 0);
}

static void test_too_many_segments(void)
{
        Virtq q;
        VirtqChain c;
        setup_ring(&q, 128, 0);
        for (uint16_t i = 0; i < 100; i++)
                set_desc(i, 0x8000 + i, 1, 1, (uint16_t)(i + 1));
        set_desc(100, 0x9000, 1, 0, 0);
        avail_push(128, 0);
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 0);
        CHECK_EQ_INT(q.bad_chains, 1);
}

static void test_corrupt_ring(void)
{
        Virtq q;
        VirtqChain c;
        setup_ring(&q, 8, 0);
        avail_push(8, 9); /* head index out of range */
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), -EIO);
        CHECK(q.broken && !virtq_ready(&q));
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), 0);

        setup_ring(&q, 8, 0);
        put16(AVAIL_GPA + 2, 9); /* 9 new entries in a ring of 8 */
        CHECK_EQ_INT(virtq_pop(&q, &mem, &c), -EIO);
        CHECK(q.broken);
}

static void test_signal(void)
{
        Virtq q;
        setup_ring(&q, 8, 0);
        q.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        uint64_t cnt = 0;
        virtq_signal(&q); /* nothing pushed: no signal */
        CHECK(read(q.call_fd, &cnt, 8) < 0 && errno == EAGAIN);
        virtq_push(&q, 0, 0);
        virtq_signal(&q);
        CHECK(read(q.call_fd, &cnt, 8) == 8 && cnt == 1);
        put16(AVAIL_GPA, 1); /* VRING_AVAIL_F_NO_INTERRUPT */
        virtq_push(&q, 0, 0);
        virtq_signal(&q);
        CHECK(read(q.call_fd, &cnt, 8) < 0 && errno == EAGAIN);
        virtq_reset(&q);
        CHECK_EQ_INT(q.call_fd, -1);
}

TEST_MAIN({
        int fd = memfd_create("guest", MFD_CLOEXEC);
        CHECK(fd >= 0 && ftruncate(fd, MEM_SIZE) == 0);
        guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(guest != MAP_FAILED);
        test_mem(fd);
        close(fd); /* the backend's mappings outlive the fd, like QEMU's */
        test_translate();
        test_chains();
        test_wrap();
        test_bad_chains();
        test_too_many_segments();
        test_corrupt_ring();
        test_signal();
        vu_mem_clear(&mem);
        munmap(guest, MEM_SIZE);
})
