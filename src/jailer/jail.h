/* jail.h — the steps ember-jailer takes, in Firecracker's order (FACTS §5): copy the exec
 * file into <chroot>, join the netns, rlimits, cgroups, new mount namespace, pivot_root +
 * chroot, /dev nodes and folders owned by uid:gid, daemonize, pid file, drop ids, exec.
 * Runs as root in a single-threaded process; must not clean anything up (the caller does). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "args.h"

typedef struct Jail {
        const JailerArgs *a;
        char *exec_src;     /* canonical --exec-file */
        const char *exec_name;
        char *chroot_dir;   /* canonical base + /<exec name>/<id>/root */
        const char *parent_cgroup;
        int null_fd;        /* --daemonize: /dev/null, opened before the chroot */
        dev_t userfaultfd;  /* host's /dev/userfaultfd, 0 = none */
        dev_t loop_control; /* host's /dev/loop-control, 0 = none */
        unsigned loop_part_shift;
        int64_t start_us, start_cpu_us;
        int64_t jailer_cpu_us; /* the jailer's own CPU time, taken before the clone or exec */
} Jail;

/* Resolves paths (realpath of --exec-file and --chroot-base-dir). */
int jail_init(Jail *j, const JailerArgs *a, Err *e);
void jail_free(Jail *j);
/* Every step up to the exec. Returns only on failure, or in the parent of --new-pid-ns
 * (0 after writing the pid file). */
int jail_run(Jail *j, Err *e);

/* jail-fs.c: the filesystem half, from the new mount namespace to the device nodes. */
int jail_probe_host(Jail *j, Err *e);
int jail_mount_ns(Jail *j, Err *e);
int jail_bind_ro(Jail *j, Err *e);
int jail_pivot(Jail *j, Err *e);
int jail_folders(Jail *j, Err *e);
int jail_devices(Jail *j, Err *e);
