/* test-cgroup.c — the per-exec cgroup of emberd-init (guest/init/cgroup.c) against this
 * host's real cgroup2 hierarchy, in a throw-away directory (cgtest.h): create, join from a
 * forked child, kill everything including a setsid escapee, accounting, removal, a stale
 * cgroup of the same name, and the limits where the hierarchy has memory and pids. The
 * hierarchy setup's refusal is checked on a fake directory. Skips what this host cannot do;
 * leaves no process and no cgroup behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "cgroup.h"
#include "cgtest.h"
#include "shared/log.h"
#include "shared/util.h"

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

static bool exists_at(int dfd, const char *name) { return faccessat(dfd, name, F_OK, 0) == 0; }

static void test_init_refuses_without_controllers(void)
{
        char dir[] = "/tmp/ember-test-cgroup-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        Err e = {0};
        CHECK_EQ_INT(cgroup_init_at(fd, &e), -ENOENT); /* not a cgroup at all */
        char path[128];
        snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
        CHECK_EQ_INT(write_file(path, "cpuset cpu io\n", 14, 0644), 0);
        CHECK_EQ_INT(cgroup_init_at(fd, &e), -EOPNOTSUPP);
        CHECK(strstr(e.msg, "memory or pids") != NULL);
        CHECK(!exists_at(fd, CGROUP_PARENT)); /* nothing created on refusal */
        close(fd);
        rm_rf(dir);
}

/* Forks a child that joins cg, leaves its session, starts a grandchild in a new session and
 * reports both pids; both sleep. */
static pid_t spawn_in(const ExecCgroup *cg, pid_t *ret_grandchild)
{
        int p[2];
        CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
                if (cgroup_exec_join(cg->procs_fd) < 0)
                        _exit(3);
                pid_t g = fork();
                if (g == 0) {
                        setsid();
                        pause();
                        _exit(0);
                }
                ssize_t _unused_ w = write(p[1], &g, sizeof(g));
                pause();
                _exit(0);
        }
        close(p[1]);
        *ret_grandchild = 0;
        CHECK_EQ_INT(fd_read_exact(p[0], ret_grandchild, sizeof(*ret_grandchild), now_ms() + 10000), 0);
        close(p[0]);
        return pid;
}

static bool in_cgroup(pid_t pid, const char *name)
{
        char path[512];
        cgtest_path_of(pid, path, sizeof(path));
        size_t n = strlen(path), k = strlen(name);
        return n > k && path[n - k - 1] == '/' && !strcmp(path + n - k, name);
}

/* Reaps pid (a child, or an orphan we are the subreaper of); its wait status. */
static int reap(pid_t pid)
{
        int st = -1;
        for (int i = 0; i < 1000; i++) {
                if (waitpid(pid, &st, WNOHANG) == pid)
                        return st;
                sleep_ms(10);
        }
        return -1;
}

static void test_exec_cgroup(int parent_fd, bool controllers)
{
        ExecCgroup cg;
        Err e = {0};
        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-1", 64, 16, &cg, &e), 0);
        CHECK(cg.dir_fd >= 0 && cg.procs_fd >= 0);
        CHECK_EQ_INT(cg.enforced, controllers);
        CHECK(exists_at(parent_fd, "exec-1"));
        pid_t g, pid = spawn_in(&cg, &g);
        CHECK(in_cgroup(pid, "exec-1"));
        CHECK(in_cgroup(g, "exec-1")); /* its own session, still in the cgroup */
        CgroupStats st;
        cgroup_exec_finish(&cg, &st); /* kills both, waits until empty, removes */
        CHECK_EQ_INT(cg.dir_fd, -1);
        CHECK(st.have_cpu);
        CHECK_EQ_INT(st.oom, false);
        CHECK_EQ_INT(st.pids_limit, false);
        CHECK_EQ_INT(st.have_peak, controllers);
        int s1 = reap(pid), s2 = reap(g);
        CHECK(WIFSIGNALED(s1) && WTERMSIG(s1) == SIGKILL);
        CHECK(WIFSIGNALED(s2) && WTERMSIG(s2) == SIGKILL);
        CHECK(!exists_at(parent_fd, "exec-1"));
        cgroup_exec_finish(&cg, &st); /* idempotent */
}

static void test_subtree_removed(int parent_fd)
{
        /* the program made cgroups inside its own and moved a process there */
        ExecCgroup cg;
        Err e = {0};
        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-3", 0, 0, &cg, &e), 0);
        CHECK_EQ_INT(mkdirat(cg.dir_fd, "a", 0755), 0);
        int a = openat(cg.dir_fd, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK_EQ_INT(mkdirat(a, "b", 0755), 0);
        ExecCgroup inner = {.parent_fd = -1, .dir_fd = -1, .procs_fd = openat(a, "b/cgroup.procs", O_WRONLY | O_CLOEXEC)};
        CHECK(inner.procs_fd >= 0);
        pid_t g, pid = spawn_in(&inner, &g);
        CHECK(in_cgroup(pid, "b"));
        close(inner.procs_fd);
        close(a);
        cgroup_exec_finish(&cg, NULL);
        int s1 = reap(pid), s2 = reap(g);
        CHECK(WIFSIGNALED(s1) && WTERMSIG(s1) == SIGKILL);
        CHECK(WIFSIGNALED(s2) && WTERMSIG(s2) == SIGKILL);
        CHECK(!exists_at(parent_fd, "exec-3"));
}

static void test_stale_cgroup(int parent_fd)
{
        /* a handler died and left exec-2 with a process in it: the next exec-2 starts clean */
        ExecCgroup old, cg;
        Err e = {0};
        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-2", 0, 0, &old, &e), 0);
        pid_t g, pid = spawn_in(&old, &g);
        close(old.procs_fd);
        close(old.dir_fd); /* forgotten, as by a handler that died */
        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-2", 0, 0, &cg, &e), 0);
        int s1 = reap(pid), s2 = reap(g);
        CHECK(WIFSIGNALED(s1) && WTERMSIG(s1) == SIGKILL);
        CHECK(WIFSIGNALED(s2) && WTERMSIG(s2) == SIGKILL);
        cgroup_exec_finish(&cg, NULL);
        CHECK(!exists_at(parent_fd, "exec-2"));
}

/* Only where this host's cgroup2 has the controllers (not on a cgroup v1 host). */
static void test_limits(int parent_fd)
{
        ExecCgroup cg;
        Err e = {0};
        CgroupStats st;
        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-pids", 0, 4, &cg, &e), 0);
        pid_t pid = fork();
        if (pid == 0) {
                if (cgroup_exec_join(cg.procs_fd) < 0)
                        _exit(3);
                for (int i = 0; i < 10; i++)
                        if (fork() == 0) {
                                pause();
                                _exit(0);
                        }
                _exit(0);
        }
        CHECK(WIFEXITED(reap(pid)));
        cgroup_exec_finish(&cg, &st);
        CHECK(st.pids_limit);
        CHECK(!st.oom);
        while (waitpid(-1, NULL, WNOHANG) > 0) /* the orphans, killed by finish */
                ;

        CHECK_EQ_INT(cgroup_exec_create(parent_fd, "exec-mem", 16, 0, &cg, &e), 0);
        pid = fork();
        if (pid == 0) {
                if (cgroup_exec_join(cg.procs_fd) < 0)
                        _exit(3);
                for (size_t i = 0; i < 64; i++) { /* 64 MiB touched against 16 */
                        char *p = malloc(1u << 20);
                        if (p)
                                memset(p, 1, 1u << 20);
                }
                _exit(0);
        }
        int s = reap(pid);
        CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
        cgroup_exec_finish(&cg, &st);
        CHECK(st.oom);
        CHECK(st.have_peak && st.peak_kib <= 16 * 1024 + 64);
}

TEST_MAIN({
        log_set_level(LOG_ERR);
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1); /* the setsid grandchildren are reaped here */
        test_init_refuses_without_controllers();
        CgTest t;
        int r = cgtest_create(&t);
        if (r < 0) {
                printf("no writable cgroup2 here (%s): real-hierarchy checks skipped\n", strerror(-r));
        } else {
                Err e = {0};
                int parent = t.controllers ? cgroup_init_at(t.fd, &e) : t.fd;
                CHECK(parent >= 0);
                test_exec_cgroup(parent, t.controllers);
                test_stale_cgroup(parent);
                test_subtree_removed(parent);
                if (t.controllers)
                        test_limits(parent);
                else
                        printf("cgroup2 without memory/pids here: limit checks skipped\n");
                if (parent != t.fd)
                        close(parent);
                cgtest_remove(&t);
        }
})
