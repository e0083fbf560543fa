/* vmm-select.h — turns Settings.vmm into the command line of the VMM to spawn.
 * process -> "<vmm_bin> --engine process", qemu -> "<vmm_bin> --engine qemu --accel kvm|tcg",
 * firecracker -> "<firecracker_bin>", auto -> firecracker when it and a usable KVM exist,
 * else qemu. KVM is usable when `<vmm_bin> --probe-kvm` says so (it boots the real kernel
 * once and caches the verdict); that is the only process spawned here, never a VMM.
 * vmm_select_jail(): the jailer and host cgroup every launch of that VMM uses. */
#pragma once
#include "../shared/err.h"
#include "../vmm/fc-jail.h"
#include "settings.h"

/* *ret_argv: malloc'd NULL-terminated array of malloc'd strings (free with vmm_select_free). */
int vmm_select(const Settings *s, VmmKind *ret_kind, char ***ret_argv, Err *e);
void vmm_select_free(char **argv);
/* The accelerator the last vmm_select() chose: "kvm", "tcg" (qemu engine) or "none"
 * (process engine). For /healthz; set once at startup, read-only afterwards. */
const char *vmm_select_accel(void);

/* How every VMM of a manager is jailed and limited (owned strings inside). */
typedef struct VmmJail {
        bool jailed;
        FcJailConfig jail;
        FcCgroupConfig cgroup;   /* version 0 = no host cgroup */
        char *jailer, *chroot_base, *init, *parent, *exec_name;
        const char *args[12];    /* jail.jailer_args */
        const char *files[2];    /* jail.files */
        const char *vmm_args[3]; /* jail.vmm_args */
} VmmJail;

/* Resolves Settings.jailer_bin ("auto": Firecracker's `jailer` beside firecracker_bin or
 * in PATH, `ember-jailer` beside ember-vmm; only as root) and the cgroup version ("auto":
 * the hierarchy that has cpu, memory and pids). Creates the chroot base; what a previous
 * emberd left there is vmm_select_jail_sweep()'s. The process engine is jailed as uid 0. */
int vmm_select_jail(const Settings *s, VmmKind k, const char *const *vmm_argv, VmmJail *ret,
                    Err *e);
void vmm_select_jail_free(VmmJail *j);
/* Kills and removes what a previous emberd left in the jails (jail, VMM, cgroup), except the
 * sandboxes keep() names (re-adopted by restart recovery, which calls this after adopting). */
void vmm_select_jail_sweep(const VmmJail *j, bool (*keep)(void *ud, const char *id), void *ud);
