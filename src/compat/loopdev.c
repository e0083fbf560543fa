/* loopdev.c — see loopdev.h. */
#include "loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../shared/cleanup.h"

#define ATTACH_ATTEMPTS 16

static int configure(int dev_fd, int backing_fd, bool read_only)
{
        __u32 flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
        struct loop_config cfg = {.fd = (__u32)backing_fd, .info.lo_flags = flags};
        if (ioctl(dev_fd, LOOP_CONFIGURE, &cfg) == 0)
                return 0;
        if (errno != EINVAL && errno != ENOTTY)
                return -errno;
        /* kernels before 5.8: two steps, undone if the second fails */
        if (ioctl(dev_fd, LOOP_SET_FD, backing_fd) < 0)
                return -errno;
        struct loop_info64 info = {.lo_flags = flags};
        if (ioctl(dev_fd, LOOP_SET_STATUS64, &info) < 0) {
                int r = -errno;
                (void)ioctl(dev_fd, LOOP_CLR_FD, 0);
                return r;
        }
        return 0;
}

static int attach_one(int ctl, int backing_fd, bool read_only, LoopDev *ret)
{
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
                return -errno;
        char path[64];
        snprintf(path, sizeof(path), "/dev/loop%d", n);
        _cleanup_close_ int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        int r = configure(fd, backing_fd, read_only);
        if (r < 0)
                return r;
        *ret = (LoopDev){.fd = TAKE_FD(fd), .index = n, .major = major(st.st_rdev),
                         .minor = minor(st.st_rdev)};
        return 0;
}

int loopdev_attach(int backing_fd, bool read_only, LoopDev *ret)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return -errno;
        int r = -EBUSY;
        /* EBUSY: another process configured "our" free device between the two calls */
        for (int i = 0; i < ATTACH_ATTEMPTS && r == -EBUSY; i++)
                r = attach_one(ctl, backing_fd, read_only, ret);
        return r;
}

void loopdev_release(LoopDev *l)
{
        if (!l)
                return;
        if (l->fd >= 0)
                close(l->fd);
        *l = LOOPDEV_NONE;
}
