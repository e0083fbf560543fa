/* sysops.h — every effect the boot steps have on the system, as a table of functions, so
 * the steps can run against a recorder in unit tests (order checked without mounting).
 * All return >= 0 or -errno. sysops_real is the only implementation that touches the
 * system; it must not contain policy (that lives in the steps). */
#pragma once
#include <stddef.h>
#include <sys/types.h>

typedef struct SysOps {
        int (*mount)(const char *src, const char *target, const char *fstype, unsigned long flags,
                     const char *data);
        int (*umount)(const char *target, int flags);
        int (*mkdir)(const char *path, mode_t mode); /* an existing directory is success */
        int (*mknod)(const char *path, mode_t mode, dev_t dev);
        int (*symlink)(const char *target, const char *path); /* existing is success */
        int (*chdir)(const char *path);
        int (*chroot)(const char *path);
        int (*pivot_root)(const char *new_root, const char *put_old);
        int (*load_module)(const char *path); /* finit_module; already loaded is success */
        int (*is_blockdev)(const char *path); /* 1 yes, 0 absent, -ENOTBLK other file */
        void (*sleep_ms)(unsigned ms);
        int (*read_file)(const char *path, size_t max, char **ret); /* malloc'd, NUL-ended */
        /* Deletes the initramfs' files under / without crossing mounts, sparing keep (a
         * top-level directory); refuses (-EPERM) when / is not a ramfs/tmpfs. */
        int (*clear_rootfs)(const char *keep);
        int (*console)(void); /* reopen /dev/console on fds 0, 1, 2 */
} SysOps;

extern const SysOps sysops_real;
