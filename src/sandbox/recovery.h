/* recovery.h — restart recovery: what a previous emberd (killed, crashed) left under
 * <state_dir>/sandboxes. Each sandbox whose record is ready, unexpired, of a known pack,
 * whose VMM is alive (pid + start time + command line) and whose agent answers a ping is
 * re-adopted; everything else is killed and removed. Runs once, in manager_new(), before
 * this run has any sandbox of its own. Touches nothing but sb-* entries and their VMMs. */
#pragma once
#include "../shared/err.h"
#include "record.h"
#include "sandbox.h"
#include "vmm-select.h"

typedef struct RecoveryParams {
        const char *sandboxes_dir;
        int64_t now_epoch_ms;
        const SandboxBoot *boot; /* how this run launches VMMs: binary, jail, host cgroup */
        const VmmJail *jail;     /* its jails, swept after adoption; NULL = none */
        /* Is rec re-adoptable under this run's settings (its pack still configured...)? */
        int (*check)(void *ud, const SandboxRecord *rec, Err *e);
        /* Makes rec's sandbox live again (sandbox_adopt) and owns it from then on; on failure
         * it has already killed the VMM and removed what the VM had. */
        int (*adopt)(void *ud, const SandboxRecord *rec, Err *e);
        void *ud;
} RecoveryParams;

typedef struct RecoveryStats {
        unsigned adopted;  /* live again */
        unsigned removed;  /* directories removed (dead, expired, creating, corrupt...) */
        unsigned killed;   /* VMMs killed: not re-adoptable, or with no usable record */
} RecoveryStats;

int recovery_run(const RecoveryParams *p, RecoveryStats *ret);
