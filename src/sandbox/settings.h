/* settings.h — what the sandbox manager needs to know, filled by the daemon's config
 * layer (src/daemon/config.c) from defaults, --config FILE and flags. Plain data. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Pack {
        char *name;          /* "python" */
        char *rootfs;        /* squashfs image; relative paths are under images_dir */
        char **interpreter;  /* NULL-terminated argv prefix; the code file's path is appended */
        char *code_file;     /* name of the file the code is written to, e.g. "main.py" */
        unsigned vcpus;      /* defaults for a sandbox of this pack */
        unsigned memory_mib;
        char *description;
} Pack;

typedef enum VmmKind { VMM_AUTO, VMM_FIRECRACKER, VMM_QEMU, VMM_PROCESS } VmmKind;

typedef struct Settings {
        char *state_dir;       /* per-sandbox directories live under <state_dir>/sandboxes */
        char *images_dir;
        VmmKind vmm;
        char *firecracker_bin; /* used when vmm resolves to firecracker */
        char *vmm_bin;         /* ember-vmm, used for qemu and process */
        char *kernel;          /* relative paths are under images_dir */
        char *initrd;
        char *boot_args;       /* extra kernel args appended to ember's own */
        Pack *packs;
        size_t n_packs;
        unsigned max_sandboxes;
        unsigned max_vcpus, max_memory_mib;
        unsigned default_ttl_s, max_ttl_s; /* 0 = no TTL */
        unsigned agent_port;
        unsigned boot_timeout_ms;          /* InstanceStart -> agent answers ping */
        uint32_t output_cap;               /* per stream, per exec */
        /* per-exec limits (a cgroup in the guest): what an exec gets when its request has
         * none, and the most a request may ask for */
        unsigned default_memory_limit_mib; /* 0 = none: the sandbox's memory bounds it */
        unsigned max_memory_limit_mib;     /* 0 = the sandbox's memory_mib */
        unsigned default_pids_limit;       /* 0 = none */
        unsigned max_pids_limit;           /* 0 = EXEC_MAX_PIDS_LIMIT */
        /* jailer and host cgroups (FACTS §5; resolved by vmm_select_jail) */
        char *jailer_bin;        /* "auto": one found beside the VMM, when root; NULL/"none": no */
        unsigned jail_uid, jail_gid; /* the process engine stays root (docs/threat-model.md) */
        char *chroot_base;       /* NULL = <state_dir>/jail */
        int cgroup_version;      /* -1 = auto, 0 = none, 1, 2 */
        char *parent_cgroup;     /* NULL = "ember" */
        unsigned cgroup_cpu_pct;          /* per vcpu, of one core; 0 = no cpu limit */
        unsigned cgroup_mem_overhead_mib; /* memory limit = guest memory + this */
        unsigned cgroup_pids_max;         /* 0 = no limit */
} Settings;

const Pack *settings_find_pack(const Settings *s, const char *name);
const char *vmm_kind_name(VmmKind k);
