/* vmm-select.h — turns Settings.vmm into the command line of the VMM to spawn.
 * process/qemu -> "<vmm_bin> --engine <name>", firecracker -> "<firecracker_bin>",
 * auto -> firecracker when it can run here, else qemu. Probes, never spawns. */
#pragma once
#include "../shared/err.h"
#include "settings.h"

/* *ret_argv: malloc'd NULL-terminated array of malloc'd strings (free with vmm_select_free). */
int vmm_select(const Settings *s, VmmKind *ret_kind, char ***ret_argv, Err *e);
void vmm_select_free(char **argv);
