/* vu-mem.h — the guest memory table QEMU hands over in SET_MEM_TABLE: maps each region
 * (MAP_SHARED), translates guest-physical addresses (descriptor buffers) and QEMU user
 * addresses (ring addresses) into our pointers. Never dereferences guest memory itself. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu-msg.h"

typedef struct VuMemMap {
        uint64_t gpa, size, uva;
        uint8_t *host;     /* = map + page-misalignment of mmap_offset */
        void *map;         /* what munmap() gets */
        size_t map_len;
} VuMemMap;

typedef struct VuMem {
        VuMemMap r[VU_MAX_MEM_REGIONS];
        unsigned n;
} VuMem;

/* Maps n regions from fds (closed by the caller); on success replaces (and unmaps) the
 * old table. Rejects empty, wrapping, overlapping and file-overrunning regions. */
int vu_mem_set(VuMem *m, const VuMemRegion *regions, const int *fds, unsigned n);
void vu_mem_clear(VuMem *m);
bool vu_mem_mapped(const VuMem *m);
/* Host pointer for guest-physical [gpa, gpa+*len); *len is cut to what is contiguous in
 * one region. NULL if gpa is in no region. */
uint8_t *vu_mem_gpa(const VuMem *m, uint64_t gpa, uint64_t *len);
/* Host pointer for QEMU user address [uva, uva+len), which must lie in one region. */
uint8_t *vu_mem_uva(const VuMem *m, uint64_t uva, uint64_t len);
