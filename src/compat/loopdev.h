/* loopdev.h — attaches a file to a free loop device, the losetup equivalent the process
 * engine needs for its drives. Always LO_FLAGS_AUTOCLEAR: the device detaches itself when its
 * last opener (our fd, a mount) is gone, so a crash leaks nothing. Never detaches by hand,
 * never touches a device it did not attach; never logs. */
#pragma once
#include <stdbool.h>

typedef struct LoopDev {
        int fd;      /* our hold on the device; -1 = none */
        int index;   /* N of /dev/loopN */
        unsigned major, minor;
} LoopDev;

#define LOOPDEV_NONE ((LoopDev){.fd = -1, .index = -1})

/* LOOP_CTL_GET_FREE + LOOP_CONFIGURE (LOOP_SET_FD + LOOP_SET_STATUS64 on kernels before 5.8),
 * retrying when another process takes the free device first. */
int loopdev_attach(int backing_fd, bool read_only, LoopDev *ret);
/* Drops our hold (autoclear detaches once nothing else holds or mounts it). NULL-safe. */
void loopdev_release(LoopDev *l);
