/* sockpath.c — see sockpath.h. /proc/net/unix lines: "Num RefCount Protocol Flags Type St
 * Inode Path"; Flags has __SO_ACCEPTCON (0x10000) on listening sockets. */
#include "sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/cleanup.h"

#define SO_ACCEPTCON_FLAG 0x10000ul

static void freelinep(char **p) { free(*p); }

bool sockpath_live(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/net/unix", "re");
        if (!f)
                return false;
        _cleanup_(freelinep) char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] == '\n')
                        line[n - 1] = 0;
                unsigned long flags;
                int off = 0;
                if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %n", &flags, &off) < 1 || off == 0)
                        continue;
                if ((flags & SO_ACCEPTCON_FLAG) && strcmp(line + off, path) == 0)
                        return true;
        }
        return false;
}

static int sockpath_clear(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        if (sockpath_live(path))
                return -EADDRINUSE;
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int sockpath_listen(const char *path, int backlog, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int r = sockpath_clear(path);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        if (listen(fd, backlog) < 0) {
                r = -errno;
                unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}
