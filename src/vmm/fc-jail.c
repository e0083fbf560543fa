/* fc-jail.c — see fc-jail.h. The jail directory is emberd's to make and to remove; the
 * jailer only fills it. A VMM is adopted from the jailer's pid file: emberd is a child
 * subreaper (fc-vm.c), so the VMM, orphaned when the jailer exits, becomes its child. */
#include "fc-jail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../shared/util.h"

#define FC_JAIL_STALE_WAIT_MS 2000
#define FC_JAIL_ARGS_MAX 96
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* the longest host-side socket of a jail: <chroot>/v.sock_<u32 port> */
#define FC_JAIL_LONGEST_SOCKET FC_JAIL_VSOCK "_4294967295"

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

int fc_jail_find(const FcJailConfig *c, const char *exec_file, const char *id, FcJail *ret,
                 Err *e)
{
        *ret = FC_JAIL_INIT;
        /* the jailer names the jail after the canonical exec file (a symlink's target) */
        _cleanup_free_ char *exec = realpath(exec_file, NULL);
        _cleanup_free_ char *base = realpath(c->chroot_base, NULL);
        if (!exec || !base)
                return err_set(e, errno, "jail: %s: %s", exec ? c->chroot_base : exec_file,
                               strerror(errno));
        FcJail j = FC_JAIL_INIT;
        j.exec_name = strdup(base_name(exec));
        j.exec_file = TAKE_PTR(exec);
        if (!j.exec_name || asprintf(&j.dir, "%s/%s/%s", base, j.exec_name, id) < 0 ||
            asprintf(&j.chroot, "%s/root", j.dir) < 0 ||
            asprintf(&j.pid_file, "%s/%s.pid", j.chroot, j.exec_name) < 0) {
                fc_jail_destroy(&j);
                return err_set(e, ENOMEM, "out of memory");
        }
        size_t longest = MAX(strlen(FC_JAIL_API_SOCK), strlen(FC_JAIL_LONGEST_SOCKET));
        if (strlen(j.chroot) + longest > SUN_PATH_MAX) {
                int r = err_set(e, ENAMETOOLONG, "jail: %s is too long for the VMM's sockets "
                                "(%zu bytes of sun_path); use a shorter chroot base",
                                j.chroot, SUN_PATH_MAX);
                fc_jail_destroy(&j);
                return r;
        }
        *ret = j;
        return 0;
}

int fc_jail_create(const FcJailConfig *c, const char *exec_file, const char *id, FcJail *ret,
                   Err *e)
{
        FcJail j;
        int r = fc_jail_find(c, exec_file, id, &j, e);
        if (r < 0)
                return r;
        (void)rm_rf(j.dir);
        r = mkdir_p(j.chroot, 0755);
        if (r < 0) {
                err_set(e, -r, "jail: cannot create %s: %s", j.chroot, strerror(-r));
                fc_jail_destroy(&j);
                return r;
        }
        *ret = j;
        return 0;
}

static int copy_file(const char *src, const char *dst)
{
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0)
                return -errno;
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
        if (out < 0)
                return -errno;
        for (off_t left = st.st_size; left > 0;) {
                ssize_t n = sendfile(out, in, NULL, (size_t)MIN(left, (off_t)(1 << 30)));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                left -= n;
        }
        return 0;
}

int fc_jail_link(const FcJail *j, const char *host_path, char **ret_inside, Err *e)
{
        _cleanup_free_ char *dst = NULL, *inside = NULL;
        if (asprintf(&inside, "/%s", base_name(host_path)) < 0 ||
            asprintf(&dst, "%s%s", j->chroot, inside) < 0)
                return err_set(e, ENOMEM, "out of memory");
        int r = link(host_path, dst) < 0 ? -errno : 0;
        /* another filesystem (or a link count at its maximum): a copy, as FACTS §5 allows */
        if (r == -EXDEV || r == -EMLINK || r == -EPERM)
                r = copy_file(host_path, dst);
        if (r < 0)
                return err_set(e, -r, "jail: cannot link %s into %s: %s", host_path, j->chroot,
                               strerror(-r));
        *ret_inside = TAKE_PTR(inside);
        return 0;
}

/* A network namespace is per thread: a short-lived thread makes one and hands back an fd. */
static void *netns_thread(void *arg)
{
        int *fd = arg;
        if (unshare(CLONE_NEWNET) < 0)
                *fd = -errno;
        else if ((*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
                *fd = -errno;
        return NULL;
}

int fc_jail_netns(FcJail *j, char *ret_path, size_t size, Err *e)
{
        int fd = -EIO;
        pthread_t t;
        int r = -pthread_create(&t, NULL, netns_thread, &fd);
        if (r < 0)
                return err_set(e, -r, "jail: cannot start a thread: %s", strerror(-r));
        pthread_join(t, NULL);
        if (fd < 0)
                return err_set(e, -fd, "jail: cannot create a network namespace: %s", strerror(-fd));
        j->netns_fd = fd;
        snprintf(ret_path, size, "/proc/%d/fd/%d", (int)getpid(), fd);
        return 0;
}

/* ---- the jailer's command line ---- */

typedef struct Argv {
        char **v;
        size_t n;
        int err;
} Argv;

static void add(Argv *a, const char *s)
{
        if (a->err || a->n + 1 >= FC_JAIL_ARGS_MAX) {
                a->err = a->err ? a->err : -E2BIG;
                return;
        }
        if (!(a->v[a->n] = strdup(s)))
                a->err = -ENOMEM;
        else
                a->n++;
}

static void add_num(Argv *a, const char *opt, unsigned long long v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", v);
        add(a, opt);
        add(a, buf);
}

static void add_cgroups(Argv *a, const FcCgroupConfig *cg, unsigned vcpus, unsigned mem_mib)
{
        CgroupSetting s[CGROUP_MAX_FILES];
        size_t n = fc_jail_cgroup_settings(cg, vcpus, mem_mib, s, ELEMENTSOF(s));
        if (!cg || !cg->version || n == 0)
                return;
        add_num(a, "--cgroup-version", (unsigned long long)cg->version);
        add(a, "--parent-cgroup");
        add(a, cg->parent);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *kv = NULL;
                if (asprintf(&kv, "%s=%s", s[i].file, s[i].value) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                add(a, "--cgroup");
                add(a, kv);
        }
}

int fc_jail_argv(const FcJailConfig *c, const FcCgroupConfig *cg, const FcJail *j, const char *id,
                 unsigned vcpus, unsigned mem_mib,
                 const char *netns_path, const char *const *vmm_args, char ***ret)
{
        Argv a = {.v = calloc(FC_JAIL_ARGS_MAX, sizeof(char *))};
        if (!a.v)
                return -ENOMEM;
        const char *fixed[] = {c->jailer, "--id", id, "--exec-file", j->exec_file,
                               "--chroot-base-dir", c->chroot_base, "--new-pid-ns"};
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                add(&a, fixed[i]);
        add_num(&a, "--uid", c->uid);
        add_num(&a, "--gid", c->gid);
        if (netns_path) {
                add(&a, "--netns");
                add(&a, netns_path);
        }
        add_cgroups(&a, cg, vcpus, mem_mib);
        for (size_t i = 0; c->jailer_args && c->jailer_args[i]; i++)
                add(&a, c->jailer_args[i]);
        add(&a, "--");
        for (size_t i = 0; vmm_args && vmm_args[i]; i++)
                add(&a, vmm_args[i]);
        for (size_t i = 0; c->vmm_args && c->vmm_args[i]; i++)
                add(&a, c->vmm_args[i]);
        add(&a, "--api-sock");
        add(&a, FC_JAIL_API_SOCK);
        if (a.err) {
                fc_jail_argv_free(a.v);
                return a.err;
        }
        *ret = a.v;
        return 0;
}

void fc_jail_argv_free(char **argv)
{
        for (size_t i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
}

static int read_pid(const char *path, pid_t *ret)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, FC_JAIL_PID_MAX, &text, NULL);
        if (r < 0)
                return r;
        char *end;
        errno = 0;
        long pid = strtol(text, &end, 10);
        if (errno || end == text || (*end && *end != '\n') || pid <= 1 || pid > INT32_MAX)
                return -EBADMSG;
        *ret = (pid_t)pid;
        return 0;
}

int fc_jail_adopt(const FcJail *j, FcProc *ret, Err *e)
{
        pid_t pid = 0;
        int r = read_pid(j->pid_file, &pid);
        if (r < 0)
                return err_set(e, -r, "jail: cannot read the VMM's pid from %s: %s", j->pid_file,
                               strerror(-r));
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return err_set(e, errno, "jail: the VMM (pid %d) is gone: %s", (int)pid,
                               strerror(errno));
        *ret = (FcProc){.pid = pid, .pidfd = pidfd};
        return 0;
}

void fc_jail_destroy(FcJail *j)
{
        if (!j)
                return;
        if (j->netns_fd >= 0)
                close(j->netns_fd);
        if (j->dir)
                (void)rm_rf(j->dir);
        free(j->dir);
        free(j->chroot);
        free(j->exec_name);
        free(j->exec_file);
        free(j->pid_file);
        *j = FC_JAIL_INIT;
}

/* ---- cgroups ---- */

size_t fc_jail_cgroup_settings(const FcCgroupConfig *cg, unsigned vcpus, unsigned mem_mib,
                               CgroupSetting *out, size_t max)
{
        if (!cg || !cg->version)
                return 0;
        CgroupLimits l = {
                .cpu_pct = vcpus * cg->cpu_pct_per_vcpu,
                .memory_bytes = ((unsigned long long)mem_mib + cg->mem_overhead_mib) << 20,
                .pids_max = cg->pids_max,
        };
        return cgroup_limits_settings(cg->version, &l, out, max);
}

int fc_jail_cgroup_apply(const FcCgroupConfig *cg, const char *id, unsigned vcpus,
                         unsigned mem_mib, pid_t pid, Err *e)
{
        CgroupSetting s[CGROUP_MAX_FILES];
        size_t n = fc_jail_cgroup_settings(cg, vcpus, mem_mib, s, ELEMENTSOF(s));
        if (n == 0)
                return 0;
        CgroupFs fs;
        int r = cgroup_fs_load(cg->mounts, cg->version, &fs, e);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = cgroup_write(&fs, cg->parent, id, s[i].file, s[i].value, e);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = cgroup_attach(&fs, cg->parent, id, s[i].file, pid, e);
        cgroup_fs_free(&fs); /* safe after a failed load too */
        return r;
}

int fc_jail_cgroup_remove(const FcCgroupConfig *cg, const char *id)
{
        if (!cg || !cg->version)
                return 0;
        CgroupFs fs;
        int r = cgroup_fs_load(cg->mounts, cg->version, &fs, NULL);
        if (r < 0)
                return r;
        r = cgroup_remove(&fs, cg->parent, id);
        cgroup_fs_free(&fs);
        return r;
}

void fc_jail_cgroup_remove_parent(const FcCgroupConfig *cg)
{
        CgroupFs fs;
        if (!cg || !cg->version || cgroup_fs_load(cg->mounts, cg->version, &fs, NULL) < 0)
                return;
        size_t n = fs.version == 2 ? 1 : fs.n_v1;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/%s", fs.version == 2 ? fs.unified : fs.v1[i].dir,
                             cg->parent) >= 0)
                        (void)rmdir(dir); /* EBUSY/ENOENT: someone else's, or never made */
        }
        cgroup_fs_free(&fs);
}

/* ---- a previous run's jails ---- */

bool fc_jail_is_vmm_of(pid_t pid, const char *id)
{
        /* /proc/<pid>/root cannot tell: after pivot_root it is not the chroot seen from here */
        return fc_launch_cmdline_has(pid, FC_JAIL_API_SOCK) && fc_launch_cmdline_has(pid, id);
}

/* 1 when the VMM of this jail was alive (and got SIGKILL), else 0. */
static int stale_kill(const char *dir, const char *exec_name, const char *id)
{
        _cleanup_free_ char *pidfile = NULL, *root = NULL;
        pid_t pid;
        if (asprintf(&root, "%s/root", dir) < 0 ||
            asprintf(&pidfile, "%s/%s.pid", root, exec_name) < 0 || read_pid(pidfile, &pid) < 0)
                return 0;
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        /* pinned by the pidfd, and it is this jail's VMM: not a recycled pid */
        if (pidfd < 0 || !fc_jail_is_vmm_of(pid, id) ||
            pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0)
                return 0;
        (void)fd_wait_readable(pidfd, now_ms() + FC_JAIL_STALE_WAIT_MS);
        return 1;
}

int fc_jail_stale_cleanup(const char *chroot_base, const char *exec_name,
                          const FcCgroupConfig *cg, bool (*keep)(void *ud, const char *id),
                          void *ud, unsigned *ret_dirs)
{
        _cleanup_free_ char *top = NULL;
        if (asprintf(&top, "%s/%s", chroot_base, exec_name) < 0)
                return -ENOMEM;
        DIR *d = opendir(top);
        unsigned dirs = 0;
        int killed = 0;
        for (struct dirent *de; d && (de = readdir(d));) {
                _cleanup_free_ char *dir = NULL;
                if (strncmp(de->d_name, "sb-", 3) != 0 || (keep && keep(ud, de->d_name)) ||
                    asprintf(&dir, "%s/%s", top, de->d_name) < 0)
                        continue;
                killed += stale_kill(dir, exec_name, de->d_name);
                /* the cgroup first: a kill now leaves the jail, which names it, for next time */
                (void)fc_jail_cgroup_remove(cg, de->d_name);
                if (rm_rf(dir) >= 0)
                        dirs++;
        }
        if (d)
                closedir(d);
        if (ret_dirs)
                *ret_dirs = dirs;
        return killed;
}
