/* fc-jail.h — launching the VMM through a jailer (Firecracker's, or ember-jailer) and the
 * host cgroup of any VMM (FACTS §5). The jail is <chroot_base>/<exec name>/<id>/root: emberd
 * links kernel, initrd, rootfs (and extra files) into it, gives the VMM paths inside it, and
 * removes it and the cgroup after the VMM is gone — the jailer cleans up nothing.
 * Knows nothing of sandboxes; never logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../shared/err.h"
#include "cgroup.h"
#include "fc-launch.h"

#define FC_JAIL_API_SOCK "/run/firecracker.socket" /* the jailed VMM's --api-sock */
#define FC_JAIL_VSOCK "/v.sock"                    /* uds_path inside the chroot */
#define FC_JAIL_LOG "/vmm.log"
#define FC_JAIL_MAX_FILES 8
#define FC_JAIL_PID_MAX 32 /* bytes of the pid file */

/* How to jail; the same for every VM of a manager. */
typedef struct FcJailConfig {
        const char *jailer;              /* the jailer binary */
        const char *chroot_base;         /* must exist; keep it short (sun_path) */
        unsigned uid, gid;
        bool netns;                      /* a fresh network namespace per VM (--netns) */
        const char *const *jailer_args;  /* extra jailer args before "--", NULL-terminated */
        const char *const *files;        /* extra files linked into the chroot root (by basename) */
        const char *const *vmm_args;     /* appended to the VMM's own args (e.g. --init /x) */
} FcJailConfig;

/* The host cgroup of a VMM (jailed: made by the jailer; else by emberd right after spawn). */
typedef struct FcCgroupConfig {
        int version;              /* 0 = none, 1 or 2 */
        const char *parent;       /* relative to the hierarchy root, e.g. "ember" */
        const char *mounts;       /* NULL = /proc/mounts (tests use a fake) */
        unsigned cpu_pct_per_vcpu; /* 0 = no cpu limit */
        unsigned mem_overhead_mib; /* added to the guest's memory for memory.max */
        unsigned pids_max;         /* 0 = none */
} FcCgroupConfig;

/* One VM's jail. Paths on the host; the VMM sees them relative to `chroot`. */
typedef struct FcJail {
        char *dir;        /* <base>/<exec name>/<id>: removed whole */
        char *chroot;     /* dir/root */
        char *exec_name;
        char *exec_file;  /* canonical: what the jailer gets as --exec-file */
        char *pid_file;   /* chroot/<exec name>.pid */
        int netns_fd;     /* held until the jailer has joined it; -1 = none */
} FcJail;

#define FC_JAIL_INIT ((FcJail){.netns_fd = -1})

/* The paths of the jail of id, made by nothing (restart recovery: a previous run's jail). */
int fc_jail_find(const FcJailConfig *c, const char *exec_file, const char *id, FcJail *ret,
                 Err *e);
/* <base>/<exec name>/<id>, made fresh (a stale one is removed first). */
int fc_jail_create(const FcJailConfig *c, const char *exec_file, const char *id, FcJail *ret,
                   Err *e);
/* Hard-links (else copies) host_path into the chroot root as its basename; *ret_inside gets
 * "/<basename>" (malloc'd). */
int fc_jail_link(const FcJail *j, const char *host_path, char **ret_inside, Err *e);
/* A new network namespace held by an fd of this process; *ret_path is a path the jailer can
 * open ("/proc/<pid>/fd/<n>"). */
int fc_jail_netns(FcJail *j, char *ret_path, size_t size, Err *e);
/* The jailer's command line: jailer, its options, "--", vmm_args (the VMM's own args). */
int fc_jail_argv(const FcJailConfig *c, const FcCgroupConfig *cg, const FcJail *j, const char *id,
                 unsigned vcpus, unsigned mem_mib,
                 const char *netns_path, const char *const *vmm_args, char ***ret);
void fc_jail_argv_free(char **argv);
/* After the jailer exited 0: the VMM from its pid file, as an FcProc (pidfd held). */
int fc_jail_adopt(const FcJail *j, FcProc *ret, Err *e);
/* Removes the jail directory and closes what is held. Idempotent. */
void fc_jail_destroy(FcJail *j);

/* The limits of a VM with vcpus and mem_mib under cg, as cgroup settings for cg->version. */
size_t fc_jail_cgroup_settings(const FcCgroupConfig *cg, unsigned vcpus, unsigned mem_mib,
                               CgroupSetting *out, size_t max);
/* Non-jailed VMM: creates <parent>/<id>, writes the limits and moves pid in. */
int fc_jail_cgroup_apply(const FcCgroupConfig *cg, const char *id, unsigned vcpus,
                         unsigned mem_mib, pid_t pid, Err *e);
/* Removes <parent>/<id> from every hierarchy of cg->version. */
int fc_jail_cgroup_remove(const FcCgroupConfig *cg, const char *id);
/* Removes <parent> itself where it is empty (at shutdown; in use elsewhere = left). */
void fc_jail_cgroup_remove_parent(const FcCgroupConfig *cg);

/* Is pid the jailed VMM of sandbox id (its command line: --id <id>, the jail's API socket)? */
bool fc_jail_is_vmm_of(pid_t pid, const char *id);
/* A previous emberd's jails under <base>/<exec name>/: kills each VMM named by a pid file
 * (only when it is that jail's VMM: fc_jail_is_vmm_of), removes the jail and its cgroup.
 * Only "sb-*" entries are touched, and not those keep() (NULL = none) says were re-adopted
 * by restart recovery. Returns the number of VMMs killed. */
int fc_jail_stale_cleanup(const char *chroot_base, const char *exec_name,
                          const FcCgroupConfig *cg, bool (*keep)(void *ud, const char *id),
                          void *ud, unsigned *ret_dirs);
