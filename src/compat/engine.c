/* engine.c — the table of engines ember-vmm knows. Adding an engine = one ops table and one
 * row here. No engine logic lives here. */
#include "engine.h"

#include <string.h>

#include "../shared/cleanup.h"

static const struct {
        const char *name;
        const EngineOps *ops; /* NULL = known, not built yet */
} engines[] = {
        {"process", &engine_process_ops},
        {"qemu", &engine_qemu_ops},
};

const EngineOps *engine_find(const char *name, bool *ret_known)
{
        for (size_t i = 0; i < ELEMENTSOF(engines); i++) {
                if (strcmp(engines[i].name, name) != 0)
                        continue;
                if (ret_known)
                        *ret_known = true;
                return engines[i].ops;
        }
        if (ret_known)
                *ret_known = false;
        return NULL;
}
