/* stale.c — cleanup of a previous run's leftovers (see stale.h).
 * A VMM is found through SO_PEERCRED on its API socket and killed only when
 * /proc/<pid>/cmdline holds the socket's exact path: a recycled pid is never hit.
 * Must not touch anything but sb-* entries of the sandboxes directory. */
#include "stale.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>

#include "../shared/util.h"

#define STALE_CMDLINE_MAX (64u * 1024)

static bool cmdline_has(pid_t pid, const char *arg)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t n = 0;
        if (read_file(path, STALE_CMDLINE_MAX, &cmd, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
                if (!strcmp(cmd + i, arg))
                        return true;
        return false;
}

/* 1 when a VMM was serving api_sock and got SIGKILL, 0 when none was. */
static int kill_server(const char *api_sock)
{
        _cleanup_close_ int fd = -1;
        if (unix_connect(api_sock, &fd) < 0)
                return 0;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
                return 0;
        /* pin the process first, then check it is the one serving this socket */
        _cleanup_close_ int pidfd = pidfd_open(cred.pid, 0);
        if (pidfd < 0 || !cmdline_has(cred.pid, api_sock))
                return 0;
        return pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0;
}

int stale_cleanup(const char *sandboxes_dir, unsigned *ret_dirs, unsigned *ret_killed)
{
        DIR *d = opendir(sandboxes_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        unsigned dirs = 0, killed = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (strncmp(de->d_name, "sb-", 3) != 0)
                        continue;
                _cleanup_free_ char *dir = NULL, *api = NULL;
                if (asprintf(&dir, "%s/%s", sandboxes_dir, de->d_name) < 0 ||
                    asprintf(&api, "%s/api.sock", dir) < 0)
                        break;
                killed += (unsigned)kill_server(api);
                if (rm_rf(dir) >= 0)
                        dirs++;
        }
        closedir(d);
        *ret_dirs = dirs;
        *ret_killed = killed;
        return 0;
}
