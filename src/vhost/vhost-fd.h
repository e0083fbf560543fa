/* vhost-fd.h — close an fd held in a long-lived struct and mark the slot empty.
 * (shared/cleanup.h's closep() is a scope-exit cleanup: it leaves the number behind,
 * which in a struct would be closed again later — possibly someone else's fd by then.) */
#pragma once
#include <unistd.h>

static inline void fd_close_reset(int *fd)
{
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}
