/* jail-fs.c — ember-jailer's filesystem steps: a private mount namespace, the chroot dir
 * bound onto itself, read-only binds (ember extension, for a dynamically linked VMM such
 * as qemu), pivot_root + chroot, the folders and device nodes the VMM needs, owned by
 * uid:gid. Mounts made here live only in the jail's mount namespace: none reach the host.
 * Unlike Firecracker's jailer, /dev is a small tmpfs of the jail's own: device nodes never
 * land on the host's disk (mknod there costs ~1.5 ms each here, and 256 loop nodes add up). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../shared/util.h"
#include "jail.h"

#define JAIL_FOLDER_MODE 0700
#define LOOP_MAJOR 7

static unsigned fls_u(unsigned long v)
{
        unsigned n = 0;
        for (; v; v >>= 1)
                n++;
        return n;
}

/* What exists only on the host: read before the pivot. */
int jail_probe_host(Jail *j, Err *e)
{
        struct stat st;
        if (stat("/dev/userfaultfd", &st) == 0 && S_ISCHR(st.st_mode))
                j->userfaultfd = st.st_rdev;
        if (!(j->a->devs & JAILER_DEV_LOOP))
                return 0;
        if (stat("/dev/loop-control", &st) < 0 || !S_ISCHR(st.st_mode))
                return err_set(e, ENODEV, "--extra-dev loop: the host has no /dev/loop-control");
        j->loop_control = st.st_rdev;
        /* loop N is minor N << fls(max_part) (drivers/block/loop.c) */
        _cleanup_free_ char *mp = NULL;
        if (read_file("/sys/module/loop/parameters/max_part", 64, &mp, NULL) >= 0)
                j->loop_part_shift = fls_u(strtoul(mp, NULL, 10));
        return 0;
}

int jail_mount_ns(Jail *j, Err *e)
{
        if (unshare(CLONE_NEWNS) < 0)
                return err_set(e, errno, "unshare(CLONE_NEWNS): %s", strerror(errno));
        /* nothing mounted in the jail may propagate back to the host */
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return err_set(e, errno, "cannot make / a slave mount: %s", strerror(errno));
        /* pivot_root needs the new root to be a mount point */
        if (mount(j->chroot_dir, j->chroot_dir, NULL, MS_BIND | MS_REC, NULL) < 0)
                return err_set(e, errno, "cannot bind %s: %s", j->chroot_dir, strerror(errno));
        return 0;
}

/* A host symlink (e.g. /lib -> usr/lib on merged-/usr) is recreated as the same symlink. */
static int bind_symlink(const char *src, const char *dst, Err *e)
{
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0)
                return err_set(e, errno, "readlink %s: %s", src, strerror(errno));
        target[n] = 0;
        if (symlink(target, dst) < 0 && errno != EEXIST)
                return err_set(e, errno, "symlink %s: %s", dst, strerror(errno));
        return 0;
}

static int bind_one(const char *src, const char *dst, bool dir, Err *e)
{
        int r = dir ? mkdir_p(dst, 0755) : 0;
        if (!dir) {
                _cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
                r = fd < 0 ? -errno : 0;
        }
        if (r < 0)
                return err_set(e, -r, "cannot create mount point %s: %s", dst, strerror(-r));
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
                return err_set(e, errno, "cannot bind %s read-only: %s", src, strerror(errno));
        return 0;
}

#define JAIL_DEV_TMPFS "mode=0755,size=256k,nr_inodes=1024"

static int dev_tmpfs(Jail *j, Err *e)
{
        _cleanup_free_ char *dev = NULL;
        if (asprintf(&dev, "%s/dev", j->chroot_dir) < 0)
                return err_set(e, ENOMEM, "out of memory");
        int r = mkdir_p(dev, 0755);
        if (r < 0)
                return err_set(e, -r, "cannot create %s: %s", dev, strerror(-r));
        if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, JAIL_DEV_TMPFS) < 0)
                return err_set(e, errno, "cannot mount a tmpfs on %s: %s", dev, strerror(errno));
        return 0;
}

int jail_bind_ro(Jail *j, Err *e)
{
        int r0 = dev_tmpfs(j, e);
        if (r0 < 0)
                return r0;
        for (size_t i = 0; i < j->a->n_bind_ro; i++) {
                const char *src = j->a->bind_ro[i];
                _cleanup_free_ char *dst = NULL, *parent = NULL;
                struct stat st;
                if (lstat(src, &st) < 0)
                        return err_set(e, errno, "--bind-ro %s: %s", src, strerror(errno));
                if (asprintf(&dst, "%s%s", j->chroot_dir, src) < 0 || !(parent = strdup(dst)))
                        return err_set(e, ENOMEM, "out of memory");
                *strrchr(parent, '/') = 0;
                int r = mkdir_p(parent, 0755);
                if (r < 0)
                        return err_set(e, -r, "cannot create %s: %s", parent, strerror(-r));
                r = S_ISLNK(st.st_mode) ? bind_symlink(src, dst, e)
                                        : bind_one(src, dst, S_ISDIR(st.st_mode), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Firecracker's chroot.rs: pivot_root into the chroot dir, drop the old root, chroot. */
int jail_pivot(Jail *j, Err *e)
{
        static const char old_root[] = "old_root";
        if (chdir(j->chroot_dir) < 0)
                return err_set(e, errno, "chdir %s: %s", j->chroot_dir, strerror(errno));
        if (mkdir(old_root, 0700) < 0 && errno != EEXIST)
                return err_set(e, errno, "mkdir old_root: %s", strerror(errno));
        if (syscall(SYS_pivot_root, ".", old_root) < 0)
                return err_set(e, errno, "pivot_root: %s", strerror(errno));
        if (chdir("/") < 0 || umount2(old_root, MNT_DETACH) < 0 || rmdir(old_root) < 0 ||
            chroot(".") < 0)
                return err_set(e, errno, "leaving the old root: %s", strerror(errno));
        return 0;
}

static const char *const folders[] = {"/", "/dev", "/dev/net", "/run"};

int jail_folders(Jail *j, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(folders); i++) {
                const char *f = folders[i];
                int r = mkdir_p(f, JAIL_FOLDER_MODE);
                if (r >= 0 && (chmod(f, JAIL_FOLDER_MODE) < 0 || chown(f, j->a->uid, j->a->gid) < 0))
                        r = -errno;
                if (r < 0)
                        return err_set(e, -r, "%s: %s", f, strerror(-r));
        }
        return 0;
}

static int node(const Jail *j, const char *path, mode_t type, dev_t dev, Err *e)
{
        if (mknod(path, type | S_IRUSR | S_IWUSR, dev) < 0)
                return err_set(e, errno, "Failed to create %s via mknod inside the jail: %s", path,
                               strerror(errno));
        if (chown(path, j->a->uid, j->a->gid) < 0)
                return err_set(e, errno, "Failed to change owner for %s: %s", path, strerror(errno));
        return 0;
}

static const struct {
        unsigned bit;
        const char *path;
        unsigned major, minor;
} extra_devs[] = {
        {JAILER_DEV_NULL, "/dev/null", 1, 3},
        {JAILER_DEV_ZERO, "/dev/zero", 1, 5},
        {JAILER_DEV_RANDOM, "/dev/random", 1, 8},
};

static int loop_nodes(const Jail *j, Err *e)
{
        int r = node(j, "/dev/loop-control", S_IFCHR, j->loop_control, e);
        for (unsigned i = 0; r >= 0 && i < JAILER_LOOP_NODES; i++) {
                char path[32];
                snprintf(path, sizeof(path), "/dev/loop%u", i);
                r = node(j, path, S_IFBLK, makedev(LOOP_MAJOR, i << j->loop_part_shift), e);
        }
        return r;
}

int jail_devices(Jail *j, Err *e)
{
        int r = node(j, "/dev/net/tun", S_IFCHR, makedev(10, 200), e);
        if (r >= 0)
                r = node(j, "/dev/kvm", S_IFCHR, makedev(10, 232), e);
        if (r < 0)
                return r;
        (void)node(j, "/dev/urandom", S_IFCHR, makedev(1, 9), NULL); /* only MMDS V2 needs it */
        if (j->userfaultfd && (r = node(j, "/dev/userfaultfd", S_IFCHR, j->userfaultfd, e)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(extra_devs); i++)
                if ((j->a->devs & extra_devs[i].bit) &&
                    (r = node(j, extra_devs[i].path, S_IFCHR,
                              makedev(extra_devs[i].major, extra_devs[i].minor), e)) < 0)
                        return r;
        return (j->a->devs & JAILER_DEV_LOOP) ? loop_nodes(j, e) : 0;
}
