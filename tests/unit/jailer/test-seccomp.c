/* test-seccomp.c — the seccomp tables are valid (every name a syscall of this architecture,
 * none both allowed and killed), and each filter, loaded in a child, refuses what it must:
 * emberd gets EPERM for mount(2) and execve(2) yet works on, a kill-listed call (kexec_load,
 * ptrace) ends the process with SIGSYS; ember-vmm's qemu filter refuses mount(2). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/ember-seccomp.h"
#include "test.h"

static void test_tables(void)
{
        const SeccompPolicy *p[] = {&seccomp_policy_emberd, seccomp_policy_vmm("process"),
                                    seccomp_policy_vmm("qemu")};
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                char msg[1024];
                int n = seccomp_policy_check(p[i], msg, sizeof(msg));
                if (n)
                        fprintf(stderr, "%s: %s\n", p[i]->name, msg);
                CHECK_EQ_INT(n, 0);
        }
        CHECK(seccomp_policy_vmm("qemu") != seccomp_policy_vmm("process"));
}

/* Runs fn in a child after loading policy p; returns the child's wait status. The child
 * reports through its exit code: 0 = every expectation held. */
static int in_child(const SeccompPolicy *p, int (*fn)(void))
{
        pid_t pid = fork();
        if (pid == 0) {
                Err e = {0};
                if (seccomp_install(p, &e) < 0) {
                        fprintf(stderr, "%s\n", e.msg);
                        _exit(100);
                }
                _exit(fn());
        }
        int status = 0;
        waitpid(pid, &status, 0);
        return status;
}

static int refused_mount(void)
{
        /* a path that does not exist: unfiltered, this would be ENOENT, never a mount */
        int r = mount("none", "/nonexistent-ember-test", "tmpfs", 0, NULL);
        if (r == 0 || errno != EPERM)
                return 1;
        char *const argv[] = {"/bin/true", NULL};
        execv(argv[0], argv); /* emberd never execs from a filtered thread */
        if (errno != EPERM)
                return 2;
        return getpid() > 0 ? 0 : 3; /* allowed calls still work */
}

static int calls_kexec(void)
{
        syscall(SYS_kexec_load, 0, 0, NULL, 0);
        return 4; /* not reached: killed */
}

static int calls_ptrace(void)
{
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        return 5;
}

static int qemu_refuses_mount(void)
{
        int r = mount("none", "/nonexistent-ember-test", "tmpfs", 0, NULL);
        return r == -1 && errno == EPERM ? 0 : 6;
}

static void test_filters(void)
{
        int st = in_child(&seccomp_policy_emberd, refused_mount);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        st = in_child(&seccomp_policy_emberd, calls_kexec);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
        st = in_child(seccomp_policy_vmm("process"), calls_ptrace);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
        st = in_child(seccomp_policy_vmm("qemu"), qemu_refuses_mount);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST_MAIN({
        test_tables();
        test_filters();
})
