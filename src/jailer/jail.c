/* jail.c — ember-jailer's step table and the steps outside the mount namespace: the chroot
 * directory and exec-file copy, netns, rlimits, cgroups, daemonize, pid file, exec.
 * Each step fails with a message naming it; nothing is undone (Firecracker's contract). */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../shared/util.h"

static int64_t cpu_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int jail_init(Jail *j, const JailerArgs *a, Err *e)
{
        *j = (Jail){.a = a, .null_fd = -1, .start_us = now_us(), .start_cpu_us = cpu_us()};
        struct stat st;
        j->exec_src = realpath(a->exec_file, NULL);
        if (!j->exec_src)
                return err_set(e, errno, "Failed to canonicalize path %s: %s", a->exec_file,
                               strerror(errno));
        if (stat(j->exec_src, &st) < 0 || !S_ISREG(st.st_mode))
                return err_set(e, EINVAL, "%s is not a file", j->exec_src);
        j->exec_name = jailer_exec_name(j->exec_src);
        _cleanup_free_ char *base = realpath(a->chroot_base, NULL);
        if (!base)
                return err_set(e, errno, "Failed to canonicalize path %s: %s", a->chroot_base,
                               strerror(errno));
        if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
                return err_set(e, ENOTDIR, "%s is not a directory", base);
        if (jailer_chroot_dir(base, j->exec_src, a->id, &j->chroot_dir) < 0)
                return err_set(e, ENOMEM, "out of memory");
        j->parent_cgroup = a->parent_cgroup ? a->parent_cgroup : j->exec_name;
        return 0;
}

void jail_free(Jail *j)
{
        free(j->exec_src);
        free(j->chroot_dir);
        if (j->null_fd >= 0)
                close(j->null_fd);
}

/* ---- before the mount namespace ---- */

static int step_chroot_dir(Jail *j, Err *e)
{
        int r = mkdir_p(j->chroot_dir, 0755);
        return r < 0 ? err_set(e, -r, "Failed to create directory %s: %s", j->chroot_dir,
                               strerror(-r))
                     : 0;
}

/* A copy, like Firecracker (a hard link would let the jailed VMM's uid own the original). */
static int step_copy_exec(Jail *j, Err *e)
{
        _cleanup_free_ char *dst = NULL;
        _cleanup_close_ int in = open(j->exec_src, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0)
                return err_set(e, errno, "cannot open %s: %s", j->exec_src, strerror(errno));
        if (asprintf(&dst, "%s/%s", j->chroot_dir, j->exec_name) < 0)
                return err_set(e, ENOMEM, "out of memory");
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                                       st.st_mode & 07777);
        if (out < 0 || fchmod(out, st.st_mode & 07777) < 0)
                return err_set(e, errno, "Failed to copy %s to %s: %s", j->exec_src, dst,
                               strerror(errno));
        for (off_t left = st.st_size; left > 0;) {
                ssize_t n = sendfile(out, in, NULL, (size_t)MIN(left, (off_t)(1 << 30)));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_set(e, n < 0 ? errno : EIO, "Failed to copy %s to %s: %s",
                                       j->exec_src, dst, n < 0 ? strerror(errno) : "short copy");
                left -= n;
        }
        return 0;
}

static int step_netns(Jail *j, Err *e)
{
        if (!j->a->netns)
                return 0;
        _cleanup_close_ int fd = open(j->a->netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_set(e, errno, "Failed to open %s: %s", j->a->netns, strerror(errno));
        if (setns(fd, CLONE_NEWNET) < 0)
                return err_set(e, errno, "Failed to join network namespace %s: %s", j->a->netns,
                               strerror(errno));
        return 0;
}

static int set_limit(int res, unsigned long long v, const char *name, Err *e)
{
        struct rlimit rl = {.rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v};
        if (setrlimit(res, &rl) < 0)
                return err_set(e, errno, "Failed to set %s limit: %s", name, strerror(errno));
        return 0;
}

static int step_rlimits(Jail *j, Err *e)
{
        int r = set_limit(RLIMIT_NOFILE, j->a->nofile, "no-file", e);
        if (r >= 0 && j->a->fsize_set)
                r = set_limit(RLIMIT_FSIZE, j->a->fsize, "fsize", e);
        return r;
}

/* v2 without --cgroup: no new cgroup; join <unified>/<parent> when it exists (FACTS §5). */
static int cgroup_v2_join_parent(const CgroupFs *fs, const char *parent, Err *e)
{
        _cleanup_free_ char *dir = NULL, *procs = NULL;
        char num[24];
        if (asprintf(&dir, "%s/%s", fs->unified, parent) < 0 ||
            asprintf(&procs, "%s/cgroup.procs", dir) < 0)
                return err_set(e, ENOMEM, "out of memory");
        if (access(dir, F_OK) < 0)
                return 0;
        snprintf(num, sizeof(num), "%d", (int)getpid());
        _cleanup_close_ int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, num, strlen(num)) < 0)
                return err_set(e, errno, "cannot move into cgroup %s: %s", dir, strerror(errno));
        return 0;
}

/* Values first, then the pid: cpuset-like files must be set before a task may join. */
static int step_cgroups(Jail *j, Err *e)
{
        const JailerArgs *a = j->a;
        if (a->n_cgroups == 0 && a->cgroup_version == 1)
                return 0;
        CgroupFs fs;
        int r = cgroup_fs_load(NULL, a->cgroup_version, &fs, e);
        if (r < 0)
                return r;
        if (a->n_cgroups == 0)
                r = cgroup_v2_join_parent(&fs, j->parent_cgroup, e);
        for (size_t i = 0; r >= 0 && i < a->n_cgroups; i++)
                r = cgroup_write(&fs, j->parent_cgroup, a->id, a->cgroups[i].file,
                                 a->cgroups[i].value, e);
        for (size_t i = 0; r >= 0 && i < a->n_cgroups; i++)
                r = cgroup_attach(&fs, j->parent_cgroup, a->id, a->cgroups[i].file, getpid(), e);
        cgroup_fs_free(&fs);
        return r;
}

static int step_open_null(Jail *j, Err *e)
{
        if (!j->a->daemonize)
                return 0;
        j->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        return j->null_fd < 0 ? err_set(e, errno, "Failed to open /dev/null: %s", strerror(errno))
                              : 0;
}

/* ---- after the chroot ---- */

static int step_daemonize(Jail *j, Err *e)
{
        if (!j->a->daemonize)
                return 0;
        /* like daemon(3): the caller's child exits, the rest runs in a new session */
        pid_t pid = fork();
        if (pid < 0)
                return err_set(e, errno, "fork: %s", strerror(errno));
        if (pid > 0)
                _exit(0);
        if (setsid() < 0)
                return err_set(e, errno, "setsid: %s", strerror(errno));
        for (int fd = 0; fd < 3; fd++)
                if (dup2(j->null_fd, fd) < 0)
                        return err_set(e, errno, "dup2: %s", strerror(errno));
        return 0;
}

static int write_pid_file(Jail *j, pid_t pid, Err *e)
{
        char path[PATH_MAX], num[24];
        snprintf(path, sizeof(path), "/%s.pid", j->exec_name);
        snprintf(num, sizeof(num), "%d", (int)pid);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || fd_write_all(fd, num, strlen(num), -1) < 0)
                return err_set(e, errno, "Failed to write %s: %s", path, strerror(errno));
        return 0;
}

/* setgroups + setgid + setuid, then exec /<name> --id ... <extra args>, empty environment. */
static int exec_vmm(Jail *j, Err *e)
{
        const JailerArgs *a = j->a;
        char start[24], start_cpu[24], parent_cpu[24], path[PATH_MAX];
        snprintf(start, sizeof(start), "%lld", (long long)j->start_us);
        snprintf(start_cpu, sizeof(start_cpu), "%lld", (long long)cpu_us());
        snprintf(parent_cpu, sizeof(parent_cpu), "%lld", (long long)j->jailer_cpu_us);
        snprintf(path, sizeof(path), "/%s", j->exec_name);
        const char **argv = calloc((size_t)a->n_extra + 10, sizeof(char *));
        if (!argv)
                return err_set(e, ENOMEM, "out of memory");
        size_t k = 0;
        const char *fixed[] = {path, "--id", a->id, "--start-time-us", start, "--start-time-cpu-us",
                               start_cpu, "--parent-cpu-time-us", parent_cpu};
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                argv[k++] = fixed[i];
        for (int i = 0; i < a->n_extra; i++)
                argv[k++] = a->extra[i];
        if (setgroups(0, NULL) < 0 || setgid(a->gid) < 0 || setuid(a->uid) < 0) {
                free(argv);
                return err_set(e, errno, "Failed to drop to uid %u gid %u: %s", (unsigned)a->uid,
                               (unsigned)a->gid, strerror(errno));
        }
        char *const env[] = {NULL};
        execve(path, (char *const *)argv, env);
        int err = errno;
        free(argv);
        return err_set(e, err, "Failed to exec into %s: %s", path, strerror(err));
}

/* The child is PID 1 of a new pid namespace; the parent records its (host) pid and exits. */
static int exec_in_new_pid_ns(Jail *j, Err *e)
{
        j->jailer_cpu_us = cpu_us() - j->start_cpu_us;
        long pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0)
                return err_set(e, errno, "Failed to clone into a new pid namespace: %s",
                               strerror(errno));
        if (pid == 0) {
                int r = exec_vmm(j, e);
                fprintf(stderr, "ember-jailer: %s\n", e ? e->msg : strerror(-r));
                _exit(JAILER_EXIT_ERROR);
        }
        return write_pid_file(j, (pid_t)pid, e);
}

typedef int (*StepFn)(Jail *j, Err *e);

static const struct {
        const char *what;
        StepFn fn;
} steps[] = {
        {"chroot directory", step_chroot_dir},
        {"exec file", step_copy_exec},
        {"network namespace", step_netns},
        {"resource limits", step_rlimits},
        {"cgroups", step_cgroups},
        {"/dev/null", step_open_null},
        {"host devices", jail_probe_host},
        {"mount namespace", jail_mount_ns},
        {"bind mounts", jail_bind_ro},
        {"pivot_root", jail_pivot},
        {"folders", jail_folders},
        {"devices", jail_devices},
        {"daemonize", step_daemonize},
};

int jail_run(Jail *j, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                int r = steps[i].fn(j, e);
                if (r < 0)
                        return err_prefix(e, "%s", steps[i].what);
        }
        if (j->a->new_pid_ns)
                return exec_in_new_pid_ns(j, e);
        int r = write_pid_file(j, getpid(), e);
        j->jailer_cpu_us = cpu_us() - j->start_cpu_us;
        return r < 0 ? r : exec_vmm(j, e);
}
