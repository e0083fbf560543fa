/* cgroup.c — the per-exec cgroup v2 (see cgroup.h): interface files are read and written
 * relative to directory fds, so a program that unmounts /sys/fs/cgroup inside the guest
 * cannot redirect us. Pure parsers at the end. Nothing here decides policy for an exec;
 * exec.c asks, and falls back when there is no cgroup. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/util.h"

#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC, <linux/magic.h> (not in musl) */
#define KILL_ROUNDS 100          /* cgroup.procs fallback (kernels before 5.14) */
#define SUBTREE_DEPTH 16         /* cgroups the program made inside its own, removed with it */

static int write_at(int dfd, const char *name, const char *val)
{
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        size_t n = strlen(val);
        ssize_t w = write(fd, val, n);
        if (w < 0)
                return -errno;
        return (size_t)w == n ? 0 : -EIO;
}

/* Reads a small file into buf (NUL-terminated); -errno. */
static int read_at(int dfd, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        size_t off = 0;
        while (off + 1 < size) {
                ssize_t n = read(fd, buf + off, size - 1 - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                off += (size_t)n;
        }
        buf[off] = 0;
        return (int)off;
}

static int read_keyed_at(int dfd, const char *name, const char *key, uint64_t *ret)
{
        char buf[CGROUP_FILE_MAX];
        int r = read_at(dfd, name, buf, sizeof(buf));
        return r < 0 ? r : cgroup_keyed(buf, key, ret);
}

/* ---- setup ---- */

static int enable_controllers(int dfd, bool cpu, const char *what, Err *e)
{
        int r = write_at(dfd, "cgroup.subtree_control", "+memory +pids");
        if (r < 0)
                return err_set(e, r, "enable memory and pids for %s: %s", what, strerror(-r));
        if (cpu && (r = write_at(dfd, "cgroup.subtree_control", "+cpu")) < 0)
                log_debug("cgroup: cpu controller for %s: %s (fair share off)", what, strerror(-r));
        return 0;
}

/* All execs together stay below the guest's memory minus a reserve (an eighth, at least
 * 32 MiB), so a program that takes everything meets the OOM killer of its cgroup at once,
 * instead of the whole VM thrashing towards the kernel's global one (minutes under TCG)
 * with PID 1 and the agent starved of memory. Best effort: without it the VM still works. */
static void limit_all_execs(int parent_fd)
{
        struct sysinfo si;
        if (sysinfo(&si) < 0)
                return;
        uint64_t total = (uint64_t)si.totalram * si.mem_unit;
        uint64_t reserve = MAX(total / 8, (uint64_t)32 << 20);
        if (total <= 2 * reserve)
                return;
        char v[32];
        snprintf(v, sizeof(v), "%" PRIu64, total - reserve);
        int r = write_at(parent_fd, "memory.max", v);
        if (r < 0)
                log_warn("cgroup: memory.max of %s: %s", CGROUP_PARENT, strerror(-r));
}

int cgroup_init_at(int root_fd, Err *e)
{
        char ctl[CGROUP_FILE_MAX];
        int r = read_at(root_fd, "cgroup.controllers", ctl, sizeof(ctl));
        if (r < 0)
                return err_set(e, r, "read cgroup.controllers: %s", strerror(-r));
        ctl[strcspn(ctl, "\n")] = 0;
        if (!cgroup_has_word(ctl, "memory") || !cgroup_has_word(ctl, "pids"))
                return err_set(e, EOPNOTSUPP, "cgroup2 lacks the memory or pids controller "
                               "(available: \"%.200s\")", ctl);
        bool cpu = cgroup_has_word(ctl, "cpu");
        r = enable_controllers(root_fd, cpu, "the root", e);
        if (r < 0)
                return r;
        if (mkdirat(root_fd, CGROUP_PARENT, 0755) < 0 && errno != EEXIST)
                return err_set(e, errno, "mkdir %s: %s", CGROUP_PARENT, strerror(errno));
        _cleanup_close_ int parent = openat(root_fd, CGROUP_PARENT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0)
                return err_set(e, errno, "open %s: %s", CGROUP_PARENT, strerror(errno));
        r = enable_controllers(parent, cpu, CGROUP_PARENT, e);
        if (r < 0)
                return r;
        limit_all_execs(parent);
        return TAKE_FD(parent);
}

/* We must own the hierarchy: emberd-init at its root (a VM, not the host's tree). */
static int check_at_root(Err *e)
{
        _cleanup_free_ char *text = NULL;
        char path[256];
        int r = read_file("/proc/self/cgroup", CGROUP_FILE_MAX, &text, NULL);
        if (r >= 0)
                r = cgroup_v2_path(text, path, sizeof(path));
        if (r < 0)
                return err_set(e, r, "no cgroup2 entry in /proc/self/cgroup: %s", strerror(-r));
        if (strcmp(path, "/") != 0)
                return err_set(e, EPERM, "emberd-init is in cgroup %.128s, not at the root of "
                               "the hierarchy", path);
        return 0;
}

int cgroup_init(Err *e)
{
        struct statfs sfs;
        if (statfs(CGROUP_MOUNT, &sfs) < 0 || sfs.f_type != CGROUP2_MAGIC) {
                (void)mkdir(CGROUP_MOUNT, 0755);
                /* nsdelegate: a program in a cgroup namespace rooted at its exec cgroup can
                 * neither raise that cgroup's limits nor leave it */
                if (mount("cgroup2", CGROUP_MOUNT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "nsdelegate") < 0)
                        return err_set(e, errno, "mount cgroup2 on %s: %s", CGROUP_MOUNT, strerror(errno));
        }
        int r = check_at_root(e);
        if (r < 0)
                return r;
        _cleanup_close_ int root = open(CGROUP_MOUNT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return err_set(e, errno, "open %s: %s", CGROUP_MOUNT, strerror(errno));
        return cgroup_init_at(root, e);
}

/* ---- one exec ---- */

void exec_cgroup_init(ExecCgroup *cg) { *cg = (ExecCgroup){.parent_fd = -1, .dir_fd = -1, .procs_fd = -1}; }

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

/* SIGKILL each pid of cgroup.procs until it reads empty (bounded). */
static void kill_procs(int dir_fd)
{
        char buf[CGROUP_FILE_MAX];
        for (int round = 0; round < KILL_ROUNDS; round++) {
                if (read_at(dir_fd, "cgroup.procs", buf, sizeof(buf)) <= 0)
                        return;
                for (char *p = buf, *end; *p; p = end) {
                        long pid = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        if (pid > 1)
                                (void)kill((pid_t)pid, SIGKILL);
                }
                sleep_ms(1);
        }
}

void cgroup_exec_kill(const ExecCgroup *cg)
{
        if (cg->dir_fd < 0)
                return;
        if (write_at(cg->dir_fd, "cgroup.kill", "1") == -ENOENT)
                kill_procs(cg->dir_fd);
}

/* Waits for "populated 0" in cgroup.events (it signals POLLPRI on each change). */
static bool wait_empty(int dir_fd, int64_t deadline)
{
        _cleanup_close_ int fd = openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        char buf[256];
        uint64_t populated = 1;
        while (fd >= 0) {
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return false;
                buf[n] = 0;
                if (cgroup_keyed(buf, "populated", &populated) < 0 || populated == 0)
                        return populated == 0;
                struct pollfd p = {.fd = fd, .events = POLLPRI};
                if (deadline_left(deadline) == 0)
                        return false;
                (void)poll(&p, 1, MIN(deadline_left(deadline), 50)); /* re-read at least every 50 ms */
        }
        return false;
}

/* A cgroup of the same name left by a handler that died: empty and remove it. */
static void remove_stale(int parent_fd, const char *name)
{
        ExecCgroup old;
        exec_cgroup_init(&old);
        old.parent_fd = parent_fd;
        old.dir_fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(old.name, sizeof(old.name), "%s", name);
        if (old.dir_fd >= 0)
                cgroup_exec_finish(&old, NULL);
}

static bool set_limits(int dir_fd, uint32_t memory_limit_mib, uint32_t pids_limit)
{
        char v[32];
        if (memory_limit_mib)
                snprintf(v, sizeof(v), "%" PRIu64, (uint64_t)memory_limit_mib << 20);
        else
                snprintf(v, sizeof(v), "max");
        bool ok = write_at(dir_fd, "memory.max", v) == 0;
        if (ok) {
                (void)write_at(dir_fd, "memory.swap.max", "0"); /* absent without swap support */
                (void)write_at(dir_fd, "memory.oom.group", "1"); /* an OOM ends the whole exec */
        }
        if (pids_limit)
                snprintf(v, sizeof(v), "%" PRIu32, pids_limit);
        else
                snprintf(v, sizeof(v), "max");
        return write_at(dir_fd, "pids.max", v) == 0 && ok;
}

int cgroup_exec_create(int parent_fd, const char *name, uint32_t memory_limit_mib,
                       uint32_t pids_limit, ExecCgroup *ret, Err *e)
{
        ExecCgroup cg;
        exec_cgroup_init(&cg);
        cg.parent_fd = parent_fd;
        if (snprintf(cg.name, sizeof(cg.name), "%s", name) >= (int)sizeof(cg.name))
                return err_set(e, ENAMETOOLONG, "cgroup name too long");
        if (mkdirat(parent_fd, name, 0755) < 0) {
                int err = errno;
                if (err == EEXIST) {
                        remove_stale(parent_fd, name);
                        err = mkdirat(parent_fd, name, 0755) < 0 ? errno : 0;
                }
                if (err)
                        return err_set(e, err, "mkdir cgroup %s: %s", name, strerror(err));
        }
        cg.dir_fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg.dir_fd < 0) {
                int r = err_set(e, errno, "open cgroup %s: %s", name, strerror(errno));
                (void)unlinkat(parent_fd, name, AT_REMOVEDIR);
                return r;
        }
        cg.procs_fd = openat(cg.dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (cg.procs_fd < 0) {
                int r = err_set(e, errno, "open %s/cgroup.procs: %s", name, strerror(errno));
                cgroup_exec_finish(&cg, NULL);
                return r;
        }
        cg.enforced = set_limits(cg.dir_fd, memory_limit_mib, pids_limit);
        *ret = cg;
        return 0;
}

int cgroup_exec_join(int procs_fd)
{
        /* "0" is the writer itself; one write(2), nothing else: runs between fork and exec */
        return write(procs_fd, "0", 1) == 1 ? 0 : -errno;
}

static void read_stats(const ExecCgroup *cg, CgroupStats *st)
{
        uint64_t v = 0;
        *st = (CgroupStats){0};
        st->have_cpu = read_keyed_at(cg->dir_fd, "cpu.stat", "usage_usec", &st->cpu_usec) >= 0;
        char buf[64];
        if (read_at(cg->dir_fd, "memory.peak", buf, sizeof(buf)) > 0) { /* 5.19+ */
                st->peak_kib = strtoull(buf, NULL, 10) / 1024;
                st->have_peak = true;
        }
        st->oom = read_keyed_at(cg->dir_fd, "memory.events", "oom_kill", &v) >= 0 && v > 0;
        st->pids_limit = read_keyed_at(cg->dir_fd, "pids.events", "max", &v) >= 0 && v > 0;
}

/* Removes the (empty) cgroups below dir_fd, deepest first; a program may mkdir inside its
 * own cgroup (its namespace root), which would keep that from being removed. */
static void remove_subtree(int dir_fd, unsigned depth)
{
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                int sub = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub >= 0 && depth < SUBTREE_DEPTH)
                        remove_subtree(sub, depth + 1);
                if (sub >= 0)
                        close(sub);
                (void)unlinkat(dir_fd, de->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

void cgroup_exec_finish(ExecCgroup *cg, CgroupStats *ret)
{
        if (ret)
                *ret = (CgroupStats){0};
        if (cg->dir_fd < 0)
                return;
        cgroup_exec_kill(cg);
        bool empty = wait_empty(cg->dir_fd, now_ms() + CGROUP_REMOVE_MS);
        if (ret)
                read_stats(cg, ret);
        remove_subtree(cg->dir_fd, 0);
        if (cg->procs_fd >= 0)
                close(cg->procs_fd);
        close(cg->dir_fd);
        if (unlinkat(cg->parent_fd, cg->name, AT_REMOVEDIR) < 0)
                log_warn("cgroup %s: not removed (%s): %s", cg->name,
                         empty ? "empty" : "still populated", strerror(errno));
        exec_cgroup_init(cg);
}

/* ---- parsers ---- */

int cgroup_keyed(const char *text, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
                        continue;
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p + klen + 1, &end, 10);
                if (errno || end == p + klen + 1 || (*end != '\n' && *end != 0))
                        return -EBADMSG;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

bool cgroup_has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; n && (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

int cgroup_v2_path(const char *text, char *out, size_t size)
{
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, "0::", 3) != 0)
                        continue;
                size_t n = strcspn(p + 3, "\n");
                if (n == 0 || n >= size)
                        return -EBADMSG;
                memcpy(out, p + 3, n);
                out[n] = 0;
                return 0;
        }
        return -ENOENT;
}
