/* vu-mem.c — map and translate guest memory (see vu-mem.h). Region bounds come from
 * QEMU, but are still checked against the file behind each fd: touching a page past the
 * end of a memfd would SIGBUS the whole process. */
#include "vu-mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

static bool range_ok(uint64_t start, uint64_t len)
{
        return len > 0 && start + len > start;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
        return a < b + blen && b < a + alen;
}

static int vu_mem_check(const VuMemRegion *rg, unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                if (!range_ok(rg[i].gpa, rg[i].size) || !range_ok(rg[i].uva, rg[i].size) ||
                    !range_ok(rg[i].mmap_offset, rg[i].size) || rg[i].size > SIZE_MAX / 2)
                        return -EINVAL;
                for (unsigned j = 0; j < i; j++)
                        if (overlaps(rg[i].gpa, rg[i].size, rg[j].gpa, rg[j].size) ||
                            overlaps(rg[i].uva, rg[i].size, rg[j].uva, rg[j].size))
                                return -EINVAL;
        }
        return 0;
}

static int vu_mem_map_one(const VuMemRegion *rg, int fd, VuMemMap *out)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < rg->mmap_offset + rg->size)
                return -EINVAL;
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t skew = rg->mmap_offset % page;
        size_t len = (size_t)(rg->size + skew);
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                       (off_t)(rg->mmap_offset - skew));
        if (p == MAP_FAILED)
                return -errno;
        *out = (VuMemMap){.gpa = rg->gpa, .size = rg->size, .uva = rg->uva,
                          .host = (uint8_t *)p + skew, .map = p, .map_len = len};
        return 0;
}

static void vu_mem_unmap(VuMemMap *r, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                if (r[i].map)
                        munmap(r[i].map, r[i].map_len);
}

int vu_mem_set(VuMem *m, const VuMemRegion *regions, const int *fds, unsigned n)
{
        if (n > VU_MAX_MEM_REGIONS)
                return -E2BIG;
        int r = vu_mem_check(regions, n);
        if (r < 0)
                return r;
        VuMem nm = {.n = 0};
        for (unsigned i = 0; i < n; i++) {
                r = vu_mem_map_one(&regions[i], fds[i], &nm.r[i]);
                if (r < 0) {
                        vu_mem_unmap(nm.r, i);
                        return r;
                }
        }
        nm.n = n;
        vu_mem_clear(m);
        *m = nm;
        return 0;
}

void vu_mem_clear(VuMem *m)
{
        vu_mem_unmap(m->r, m->n);
        memset(m, 0, sizeof(*m));
}

bool vu_mem_mapped(const VuMem *m) { return m->n > 0; }

uint8_t *vu_mem_gpa(const VuMem *m, uint64_t gpa, uint64_t *len)
{
        for (unsigned i = 0; i < m->n; i++) {
                const VuMemMap *r = &m->r[i];
                if (gpa < r->gpa || gpa - r->gpa >= r->size)
                        continue;
                uint64_t off = gpa - r->gpa;
                *len = MIN(*len, r->size - off);
                return r->host + off;
        }
        return NULL;
}

uint8_t *vu_mem_uva(const VuMem *m, uint64_t uva, uint64_t len)
{
        for (unsigned i = 0; i < m->n; i++) {
                const VuMemMap *r = &m->r[i];
                if (uva < r->uva || uva - r->uva >= r->size)
                        continue;
                uint64_t off = uva - r->uva;
                return len <= r->size - off ? r->host + off : NULL;
        }
        return NULL;
}
