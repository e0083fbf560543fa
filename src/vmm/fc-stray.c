/* fc-stray.c — the jailed processes a killed emberd left running with nothing that names
 * them: a jailer still building a jail (emberd died while it ran), a VMM whose jail has no
 * pid file yet. Restart recovery (src/sandbox/recovery.c) kills them before the jails are
 * swept. Kills only what provably belongs to the given jail base: a jailer's command line
 * naming that base, or a root directory that is one of its jails (same device and inode). */
#include "fc-stray.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shared/util.h"

#define FC_STRAY_MAX 1024u         /* jails and processes considered in one sweep */
#define FC_STRAY_CMDLINE_MAX (64u * 1024)
#define FC_STRAY_WAIT_MS 2000      /* a SIGKILLed process: wait this long for its exit */

typedef struct StrayRoot {
        dev_t dev;
        ino_t ino;
} StrayRoot;

typedef struct Strays {
        const char *base;
        FcStrayKeep keep;
        void *ud;
        StrayRoot roots[FC_STRAY_MAX];
        size_t n_roots;
        int pidfds[FC_STRAY_MAX];
        size_t n_killed;
} Strays;

/* The roots of the jails not kept: <base>/<exec_name>/<sb-id>/root. */
static void collect_roots(Strays *s, const char *exec_name)
{
        _cleanup_free_ char *top = NULL;
        if (asprintf(&top, "%s/%s", s->base, exec_name) < 0)
                return;
        DIR *d = opendir(top);
        for (struct dirent *de; d && s->n_roots < FC_STRAY_MAX && (de = readdir(d));) {
                _cleanup_free_ char *root = NULL;
                struct stat st;
                if (strncmp(de->d_name, "sb-", 3) || (s->keep && s->keep(s->ud, de->d_name)) ||
                    asprintf(&root, "%s/%s/root", top, de->d_name) < 0 || stat(root, &st) < 0)
                        continue;
                s->roots[s->n_roots++] = (StrayRoot){st.st_dev, st.st_ino};
        }
        if (d)
                closedir(d);
}

/* The value after `flag` on a NUL-separated command line, or NULL. */
static const char *arg_after(const char *cmd, size_t n, const char *flag)
{
        for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
                if (!strcmp(cmd + i, flag) && i + strlen(cmd + i) + 1 < n)
                        return cmd + i + strlen(cmd + i) + 1;
        return NULL;
}

/* A jailer at work on a jail of this base for a sandbox that is not kept. */
static bool is_stray_jailer(Strays *s, pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t n = 0;
        if (read_file(path, FC_STRAY_CMDLINE_MAX, &cmd, &n) < 0)
                return false;
        const char *base = arg_after(cmd, n, "--chroot-base-dir");
        const char *id = arg_after(cmd, n, "--id");
        return base && id && !strcmp(base, s->base) && !strncmp(id, "sb-", 3) &&
               !(s->keep && s->keep(s->ud, id));
}

static bool is_jailed_in_stray_root(const Strays *s, pid_t pid)
{
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        if (stat(path, &st) < 0)
                return false;
        for (size_t i = 0; i < s->n_roots; i++)
                if (s->roots[i].dev == st.st_dev && s->roots[i].ino == st.st_ino)
                        return true;
        return false;
}

static bool is_stray(Strays *s, pid_t pid)
{
        return is_stray_jailer(s, pid) || is_jailed_in_stray_root(s, pid);
}

static void kill_one(Strays *s, pid_t pid)
{
        /* pin, then check again: the pid may have been recycled since the first look */
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return;
        if (s->n_killed < FC_STRAY_MAX && is_stray(s, pid) &&
            pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0) {
                s->pidfds[s->n_killed++] = pidfd;
                return;
        }
        close(pidfd);
}

int fc_stray_kill_jailed(const char *chroot_base, const char *exec_name, FcStrayKeep keep,
                         void *ud)
{
        Strays *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (Strays){.base = chroot_base, .keep = keep, .ud = ud};
        collect_roots(s, exec_name);
        DIR *d = opendir("/proc");
        for (struct dirent *de; d && (de = readdir(d));) {
                long pid = isdigit((unsigned char)de->d_name[0]) ? strtol(de->d_name, NULL, 10) : 0;
                if (pid > 1 && pid != getpid() && is_stray(s, (pid_t)pid))
                        kill_one(s, (pid_t)pid);
        }
        if (d)
                closedir(d);
        int64_t deadline = now_ms() + FC_STRAY_WAIT_MS;
        for (size_t i = 0; i < s->n_killed; i++) {
                (void)fd_wait_readable(s->pidfds[i], deadline);
                close(s->pidfds[i]);
        }
        int killed = (int)s->n_killed;
        free(s);
        return killed;
}
