/* qemu-proc.c — see qemu-proc.h. clone3(CLONE_PIDFD); between clone and exec the child makes
 * system calls only (ember-vmm has other threads: no malloc, no stdio, no locks). */
#include "qemu-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"
#include "compat-limits.h"

extern char **environ;

typedef struct ChildArgs {
        const char *path;
        char *const *argv;
        const int *keep;
        size_t n_keep;
        int null_fd, out_fd, parent_pidfd, err_fd;
} ChildArgs;

static _Noreturn void child_run(const ChildArgs *a)
{
        struct pollfd parent = {.fd = a->parent_pidfd, .events = POLLIN};
        sigset_t none;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (poll(&parent, 1, 0) != 0) /* ember-vmm died before the prctl took hold */
                _exit(127);
        if (dup2(a->null_fd, STDIN_FILENO) < 0 || dup2(a->out_fd, STDOUT_FILENO) < 0 ||
            dup2(a->out_fd, STDERR_FILENO) < 0)
                goto fail;
        if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
                goto fail;
        for (size_t i = 0; i < a->n_keep; i++)
                if (fcntl(a->keep[i], F_SETFD, 0) < 0)
                        goto fail;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)signal(SIGPIPE, SIG_DFL);
        execve(a->path, a->argv, environ);
fail:;
        int err = errno;
        ssize_t _unused_ w = write(a->err_fd, &err, sizeof(err));
        _exit(127);
}

/* execvp's PATH search, done before clone (the child must not allocate). */
static int resolve(const char *bin, char *out, size_t size)
{
        if (strchr(bin, '/')) {
                snprintf(out, size, "%s", bin);
                return access(out, X_OK) < 0 ? -errno : 0;
        }
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        if (!dirs)
                return -ENOMEM;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                snprintf(out, size, "%s/%s", d, bin);
                if (access(out, X_OK) == 0)
                        return 0;
        }
        return -ENOENT;
}

static int wait_exec(int err_fd, Err *e)
{
        int child_errno = 0;
        int r = fd_read_exact(err_fd, &child_errno, sizeof(child_errno),
                              now_ms() + COMPAT_START_DEADLINE_MS);
        if (r == -EPIPE)
                return 0; /* EOF: the CLOEXEC pipe closed at exec */
        if (r == 0)
                return err_set(e, child_errno, "cannot run QEMU: %s", strerror(child_errno));
        return err_set(e, -r, "QEMU did not start: %s", strerror(-r));
}

static int clone_child(ChildArgs *a, QemuProc *ret, Err *e)
{
        int pidfd = -1;
        struct clone_args ca = {
                .flags = CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid == 0)
                child_run(a);
        if (pid < 0)
                return err_set(e, errno, "clone3: %s", strerror(errno));
        *ret = (QemuProc){.pid = (pid_t)pid, .pidfd = pidfd};
        return 0;
}

int qemu_proc_spawn(char *const *argv, const int *keep, size_t n_keep, int out_fd,
                    QemuProc *ret, Err *e)
{
        char path[PATH_MAX];
        int pipefd[2];
        *ret = QEMU_PROC_INIT;
        int r = resolve(argv[0], path, sizeof(path));
        if (r < 0)
                return err_set(e, -r, "QEMU binary '%s': %s", argv[0], strerror(-r));
        _cleanup_close_ int self = pidfd_open(getpid(), 0);
        _cleanup_close_ int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (self < 0 || null_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
                return err_set(e, errno, "cannot start QEMU: %s", strerror(errno));
        _cleanup_close_ int rd = pipefd[0];
        int wr = pipefd[1];
        ChildArgs a = {.path = path, .argv = argv, .keep = keep, .n_keep = n_keep,
                       .null_fd = null_fd, .out_fd = out_fd, .parent_pidfd = self, .err_fd = wr};
        r = clone_child(&a, ret, e);
        close(wr); /* only the child holds the write end now: EOF = exec'd */
        if (r >= 0 && (r = wait_exec(rd, e)) < 0)
                qemu_proc_release(ret);
        return r;
}

void qemu_proc_kill(QemuProc *p)
{
        if (!p->pid || p->reaped)
                return;
        (void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
        while (waitid(P_PIDFD, (id_t)p->pidfd, &p->status, WEXITED) < 0 && errno == EINTR)
                ;
        p->reaped = true;
}

int qemu_proc_reap(QemuProc *p, char *how, size_t how_size)
{
        if (!p->pid)
                return -ECHILD;
        while (!p->reaped) {
                if (waitid(P_PIDFD, (id_t)p->pidfd, &p->status, WEXITED) == 0)
                        p->reaped = true;
                else if (errno != EINTR)
                        return -errno;
        }
        if (p->status.si_code == CLD_EXITED)
                snprintf(how, how_size, "exited with status %d", p->status.si_status);
        else
                snprintf(how, how_size, "was killed by signal %d (%s)", p->status.si_status,
                         sigabbrev_np(p->status.si_status) ? sigabbrev_np(p->status.si_status) : "?");
        return 0;
}

void qemu_proc_release(QemuProc *p)
{
        qemu_proc_kill(p);
        if (p->pidfd >= 0)
                close(p->pidfd);
        *p = QEMU_PROC_INIT;
}
