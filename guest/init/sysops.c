/* sysops.c — the real SysOps: thin syscall wrappers returning -errno, plus the one
 * recursive deletion switch_root needs. No policy, no logging. */
#include "sysops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/util.h"

#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

static int ret_errno(int r) { return r < 0 ? -errno : r; }

static int real_mount(const char *src, const char *target, const char *fstype, unsigned long flags,
                      const char *data)
{
        return ret_errno(mount(src, target, fstype, flags, data));
}

static int real_umount(const char *target, int flags) { return ret_errno(umount2(target, flags)); }

static int real_mkdir(const char *path, mode_t mode)
{
        if (mkdir(path, mode) == 0)
                return 0;
        int r = -errno;
        struct stat st;
        if (r == -EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        return r;
}

static int real_mknod(const char *path, mode_t mode, dev_t dev) { return ret_errno(mknod(path, mode, dev)); }

static int real_symlink(const char *target, const char *path)
{
        if (symlink(target, path) == 0 || errno == EEXIST)
                return 0;
        return -errno;
}

static int real_chdir(const char *path) { return ret_errno(chdir(path)); }
static int real_chroot(const char *path) { return ret_errno(chroot(path)); }

static int real_pivot_root(const char *new_root, const char *put_old)
{
        return ret_errno((int)syscall(SYS_pivot_root, new_root, put_old));
}

static int real_load_module(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int real_is_blockdev(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return S_ISBLK(st.st_mode) ? 1 : -ENOTBLK;
}

static void real_sleep_ms(unsigned ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int real_read_file(const char *path, size_t max, char **ret) { return read_file(path, max, ret, NULL); }

/* Deletes the content of dirfd (on device dev) depth first; entries on other devices
 * (mount points) are left alone. Best effort: the first error is returned at the end. */
static int clear_dir(int dirfd, dev_t dev, const char *keep)
{
        DIR *d = fdopendir(dirfd);
        if (!d) {
                close(dirfd);
                return -errno;
        }
        int ret = 0;
        for (struct dirent *de; (de = readdir(d));) {
                const char *n = de->d_name;
                struct stat st;
                if (!strcmp(n, ".") || !strcmp(n, "..") || (keep && !strcmp(n, keep)))
                        continue;
                if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int r = sub < 0 ? -errno : clear_dir(sub, dev, NULL);
                        ret = ret < 0 ? ret : r;
                }
                if (unlinkat(dirfd, n, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0 && ret == 0)
                        ret = -errno;
        }
        closedir(d);
        return ret;
}

static int real_clear_rootfs(const char *keep)
{
        struct statfs sfs;
        struct stat st;
        if (statfs("/", &sfs) < 0 || stat("/", &st) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != RAMFS_MAGIC_ && (unsigned long)sfs.f_type != TMPFS_MAGIC_)
                return -EPERM; /* never wipe a real file system */
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (keep && keep[0] == '/')
                keep++;
        return clear_dir(fd, st.st_dev, keep);
}

static int real_console(void)
{
        int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (int i = 0; i < 3; i++)
                if (dup2(fd, i) < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        if (fd > 2)
                close(fd);
        else
                (void)fcntl(fd, F_SETFD, 0);
        return 0;
}

const SysOps sysops_real = {
        .mount = real_mount,
        .umount = real_umount,
        .mkdir = real_mkdir,
        .mknod = real_mknod,
        .symlink = real_symlink,
        .chdir = real_chdir,
        .chroot = real_chroot,
        .pivot_root = real_pivot_root,
        .load_module = real_load_module,
        .is_blockdev = real_is_blockdev,
        .sleep_ms = real_sleep_ms,
        .read_file = real_read_file,
        .clear_rootfs = real_clear_rootfs,
        .console = real_console,
};
