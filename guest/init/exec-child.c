/* exec-child.c — see exec-child.h. Runs in the child right after fork(); the handler is
 * single-threaded, so libc is safe to use here. */
#include "exec-child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"

static void close_others(void)
{
        if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
                return;
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
                (void)close(fd);
}

static void reset_signals(void)
{
        sigset_t none;
        for (int sig = 1; sig < 65; sig++)
                (void)signal(sig, SIG_DFL); /* SIGKILL, SIGSTOP, libc-internal: EINVAL, fine */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Moves the three pipe ends to 0, 1, 2 even if one of them already sits on 0..2. */
static int setup_stdio(int in_fd, int out_fd, int err_fd)
{
        int fds[3] = {in_fd, out_fd, err_fd};
        for (int i = 0; i < 3; i++)
                if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
                        return -1;
        for (int i = 0; i < 3; i++)
                if (dup2(fds[i], i) < 0)
                        return -1;
        return 0;
}

_Noreturn void exec_child_run(const ExecChild *c, int in_fd, int out_fd, int err_fd)
{
        (void)setpgid(0, 0);
        if (setup_stdio(in_fd, out_fd, err_fd) < 0)
                _exit(126);
        if (c->cgroup_procs_fd >= 0) {
                int r = cgroup_exec_join(c->cgroup_procs_fd);
                if (r < 0) {
                        dprintf(2, "ember: join the exec's cgroup: %s\n", strerror(-r));
                        _exit(126);
                }
                (void)unshare(CLONE_NEWCGROUP);
        }
        close_others();
        reset_signals();
        if (chdir(c->cwd) < 0) {
                dprintf(2, "ember: cwd %s: %s\n", c->cwd, strerror(errno));
                _exit(126);
        }
        environ = (char **)c->envp; /* execvp searches the PATH of the new environment */
        execvp(c->argv[0], (char *const *)c->argv);
        int err = errno;
        dprintf(2, "ember: %s: %s\n", c->argv[0], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
}
