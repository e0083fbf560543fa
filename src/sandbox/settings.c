/* settings.c — lookups over the plain Settings data (see settings.h). No allocation. */
#include "settings.h"

#include <string.h>

#include "../shared/cleanup.h"

const Pack *settings_find_pack(const Settings *s, const char *name)
{
        for (size_t i = 0; name && i < s->n_packs; i++)
                if (s->packs[i].name && !strcmp(s->packs[i].name, name))
                        return &s->packs[i];
        return NULL;
}

static const char *const vmm_kind_names[] = {
        [VMM_AUTO] = "auto",
        [VMM_FIRECRACKER] = "firecracker",
        [VMM_QEMU] = "qemu",
        [VMM_PROCESS] = "process",
};

const char *vmm_kind_name(VmmKind k)
{
        return (size_t)k < ELEMENTSOF(vmm_kind_names) ? vmm_kind_names[k] : "unknown";
}
