/* fc-stray.c — the jailed processes a killed emberd left running with nothing that names
 * them: a jailer still building a jail (emberd died while it ran), a VMM whose jail has no
 * pid file yet, or whose jail directory a recovery cut short already removed. Restart
 * recovery (src/sandbox/recovery.c) kills them before the jails are swept. Kills only what
 * provably belongs to the given jail base: a jailer's command line naming that base, a root
 * directory that is one of its jails (same device and inode), or a root mount that is one
 * (mountinfo: the base's device, and the root <base>/<exec_name>/<sb-id>/root as that
 * filesystem shows it — never another emberd's jails on the same disk). */
#include "fc-stray.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../shared/util.h"

#define FC_STRAY_MAX 1024u         /* jails and processes considered in one pass */
#define FC_STRAY_ID_MAX 40         /* "sb-" + 16 hex digits, with room */
#define FC_STRAY_CMDLINE_MAX (64u * 1024)
#define FC_STRAY_MOUNTINFO_MAX (64u * 1024) /* a jailed process has a handful of mounts */
#define FC_STRAY_WAIT_MS 2000      /* a SIGKILLed process: wait this long for its exit */
#define FC_STRAY_PASSES 4          /* again while a pass kills: a jailer may fork meanwhile */

typedef char StrayId[FC_STRAY_ID_MAX];

typedef struct StrayRoot {
        dev_t dev;
        ino_t ino;
        StrayId id;
} StrayRoot;

typedef struct Strays {
        const char *base, *exec_name;
        const FcCgroupConfig *cg;
        dev_t base_dev;
        char base_in_fs[PATH_MAX]; /* base as a mountinfo root field shows it ("" = fs root) */
        FcStrayKeep keep;
        void *ud;
        StrayRoot roots[FC_STRAY_MAX];
        size_t n_roots;
        int pidfds[FC_STRAY_MAX];
        StrayId ids[FC_STRAY_MAX];
        size_t n_killed;
} Strays;

/* A sandbox id that is not kept, copied to ret. */
static bool stray_id(const Strays *s, const char *id, size_t len, StrayId ret)
{
        if (len < 4 || len >= FC_STRAY_ID_MAX || strncmp(id, "sb-", 3))
                return false;
        memcpy(ret, id, len);
        ret[len] = 0;
        return !(s->keep && s->keep(s->ud, ret));
}

/* The roots of the jails not kept: <base>/<exec_name>/<sb-id>/root. */
static void collect_roots(Strays *s)
{
        _cleanup_free_ char *top = NULL;
        if (asprintf(&top, "%s/%s", s->base, s->exec_name) < 0)
                return;
        DIR *d = opendir(top);
        for (struct dirent *de; d && s->n_roots < FC_STRAY_MAX && (de = readdir(d));) {
                _cleanup_free_ char *root = NULL;
                struct stat st;
                StrayRoot *r = &s->roots[s->n_roots];
                if (!stray_id(s, de->d_name, strlen(de->d_name), r->id) ||
                    asprintf(&root, "%s/%s/root", top, de->d_name) < 0 || stat(root, &st) < 0)
                        continue;
                r->dev = st.st_dev;
                r->ino = st.st_ino;
                s->n_roots++;
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
static bool is_stray_jailer(const Strays *s, pid_t pid, StrayId ret)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t n = 0;
        if (read_file(path, FC_STRAY_CMDLINE_MAX, &cmd, &n) < 0)
                return false;
        const char *base = arg_after(cmd, n, "--chroot-base-dir");
        const char *id = arg_after(cmd, n, "--id");
        return base && id && !strcmp(base, s->base) && stray_id(s, id, strlen(id), ret);
}

static bool is_jailed_in_stray_root(const Strays *s, pid_t pid, StrayId ret)
{
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        if (stat(path, &st) < 0)
                return false;
        for (size_t i = 0; i < s->n_roots; i++)
                if (s->roots[i].dev == st.st_dev && s->roots[i].ino == st.st_ino) {
                        memcpy(ret, s->roots[i].id, sizeof(StrayId));
                        return true;
                }
        return false;
}

/* Fields 3 to 5 of a mountinfo line: device, root within the filesystem, mount point. */
static bool mountinfo_fields(const char *line, dev_t *dev, char root[PATH_MAX],
                             char point[PATH_MAX])
{
        unsigned maj = 0, min = 0;
        if (sscanf(line, "%*u %*u %u:%u %4095s %4095s", &maj, &min, root, point) != 4)
                return false;
        *dev = makedev(maj, min);
        return true;
}

/* The base as a root field of a mount of its filesystem shows it: the root of the mount it
 * lies under (the longest mount point that prefixes it) joined with the rest of its path. */
static int locate_base(Strays *s)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file("/proc/self/mountinfo", 4u * 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        size_t best = 0;
        bool found = false;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char root[PATH_MAX], point[PATH_MAX];
                dev_t dev;
                size_t n;
                if (!mountinfo_fields(line, &dev, root, point) || dev != s->base_dev)
                        continue;
                n = strcmp(point, "/") ? strlen(point) : 0;
                if ((n && (strncmp(s->base, point, n) || (s->base[n] && s->base[n] != '/'))) ||
                    (found && n < best))
                        continue;
                snprintf(s->base_in_fs, sizeof(s->base_in_fs), "%s%s",
                         strcmp(root, "/") ? root : "", s->base + n);
                best = n;
                found = true;
        }
        return found ? 0 : -ENOENT;
}

/* A mountinfo line of the root mount whose root is a jail of this base and exec name:
 * "<base>/<exec_name>/<sb-id>/root" as the base's filesystem shows it, removed or not. */
static bool root_mount_is_stray_jail(const Strays *s, const char *line, StrayId ret)
{
        char root[PATH_MAX], point[PATH_MAX];
        dev_t dev;
        if (!mountinfo_fields(line, &dev, root, point) || strcmp(point, "/") ||
            dev != s->base_dev)
                return false;
        char *deleted = strstr(root, "//deleted");
        if (deleted)
                *deleted = 0;
        size_t nb = strlen(s->base_in_fs), ne = strlen(s->exec_name), n = strlen(root);
        if (strncmp(root, s->base_in_fs, nb) || root[nb] != '/' ||
            strncmp(root + nb + 1, s->exec_name, ne) || root[nb + 1 + ne] != '/' || n < 5 ||
            strcmp(root + n - 5, "/root"))
                return false;
        const char *id = root + nb + 1 + ne + 1;
        size_t len = (size_t)(root + n - 5 - id);
        return memchr(id, '/', len) == NULL && stray_id(s, id, len, ret);
}

static bool is_in_stray_jail_mount(const Strays *s, pid_t pid, StrayId ret)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
        _cleanup_free_ char *text = NULL;
        if (read_file(path, FC_STRAY_MOUNTINFO_MAX, &text, NULL) < 0)
                return false; /* gone, or far more mounts than a jail has */
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (root_mount_is_stray_jail(s, line, ret))
                        return true;
        }
        return false;
}

static bool is_stray(const Strays *s, pid_t pid, StrayId ret)
{
        return is_stray_jailer(s, pid, ret) || is_jailed_in_stray_root(s, pid, ret) ||
               is_in_stray_jail_mount(s, pid, ret);
}

static void kill_one(Strays *s, pid_t pid)
{
        /* pin, then check again: the pid may have been recycled since the first look */
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return;
        if (s->n_killed < FC_STRAY_MAX && is_stray(s, pid, s->ids[s->n_killed]) &&
            pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0) {
                s->pidfds[s->n_killed++] = pidfd;
                return;
        }
        close(pidfd);
}

/* One pass over /proc: kills what is stray, waits for it, removes its host cgroup (which
 * may be all that still names it). Returns how many. */
static int kill_pass(Strays *s)
{
        s->n_killed = 0;
        DIR *d = opendir("/proc");
        for (struct dirent *de; d && (de = readdir(d));) {
                long pid = isdigit((unsigned char)de->d_name[0]) ? strtol(de->d_name, NULL, 10) : 0;
                StrayId id;
                if (pid > 1 && pid != getpid() && is_stray(s, (pid_t)pid, id))
                        kill_one(s, (pid_t)pid);
        }
        if (d)
                closedir(d);
        int64_t deadline = now_ms() + FC_STRAY_WAIT_MS;
        for (size_t i = 0; i < s->n_killed; i++) {
                (void)fd_wait_readable(s->pidfds[i], deadline);
                close(s->pidfds[i]);
                (void)fc_jail_cgroup_remove(s->cg, s->ids[i]);
        }
        return (int)s->n_killed;
}

int fc_stray_kill_jailed(const char *chroot_base, const char *exec_name,
                         const FcCgroupConfig *cg, FcStrayKeep keep, void *ud)
{
        struct stat st;
        if (stat(chroot_base, &st) < 0)
                return -errno;
        Strays *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->base = chroot_base;
        s->exec_name = exec_name;
        s->cg = cg;
        s->base_dev = st.st_dev;
        s->keep = keep;
        s->ud = ud;
        collect_roots(s);
        if (locate_base(s) < 0) { /* no mount detection then; the other two still run */
                s->base_in_fs[0] = 0;
                s->base_dev = (dev_t)-1;
        }
        int killed = 0;
        for (int pass = 0, k = 1; pass < FC_STRAY_PASSES && k > 0; pass++)
                killed += k = kill_pass(s);
        free(s);
        return killed;
}
