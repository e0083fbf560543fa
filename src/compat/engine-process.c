/* engine-process.c — the process engine (docs/design.md §3): no kernel; emberd-init runs as
 * PID 1 of fresh mount/PID/IPC/UTS/network namespaces, drives become loop devices, and the
 * guest's AF_VSOCK listener is an abstract Unix socket this process creates and hands down.
 * It is NOT an isolation boundary: for tests and development only. It must never leave a
 * process, a loop device or a mount behind, and never lets the guest outlive ember-vmm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proto/limits.h"
#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/util.h"
#include "engine.h"
#include "loopdev.h"

#define AGENT_BACKLOG 128

struct Engine {
        char *init_path;
        pid_t pid; /* 0 = no guest */
        int pidfd;
        bool reaped;
        siginfo_t status;
        LoopDev loops[COMPAT_MAX_DRIVES];
        unsigned n_loops;
        struct sockaddr_un agent_addr;
        socklen_t agent_len;
        uint32_t agent_port;
};

/* Everything the child needs, prepared before clone so the child only makes system calls. */
typedef struct ChildArgs {
        char *argv[8 + 2 * COMPAT_MAX_DRIVES];
        char agent_fd_str[16];
        char devs[COMPAT_MAX_DRIVES][48];
        int agent_fd, console_fd, null_fd, parent_pidfd, err_fd;
} ChildArgs;

static char *const child_env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/",
        "TERM=linux",
        NULL,
};

static int process_create(const EngineConfig *cfg, Engine **ret, Err *e)
{
        Engine *en = calloc(1, sizeof(*en));
        if (!en || !(en->init_path = strdup(cfg->init_path ? cfg->init_path : ""))) {
                free(en);
                return err_set(e, ENOMEM, "out of memory");
        }
        en->pidfd = -1;
        for (unsigned i = 0; i < COMPAT_MAX_DRIVES; i++)
                en->loops[i] = LOOPDEV_NONE;
        *ret = en;
        return 0;
}

static void release_loops(Engine *en)
{
        for (unsigned i = 0; i < en->n_loops; i++)
                loopdev_release(&en->loops[i]);
        en->n_loops = 0;
}

/* ember.port=N from the boot args (docs/design.md §1); the guest itself rejects bad values. */
static uint32_t agent_port(const Model *m)
{
        char v[16], *end;
        if (!model_boot_arg(m, "ember.port", v, sizeof(v)))
                return AGENT_DEFAULT_PORT;
        errno = 0;
        unsigned long p = strtoul(v, &end, 10);
        return (errno || *end || end == v || p > UINT32_MAX) ? AGENT_DEFAULT_PORT : (uint32_t)p;
}

/* Each drive, in guest order, on its own loop device; the loop fds stay ours until destroy,
 * so autoclear cannot fire before the guest has mounted. */
static int attach_drives(Engine *en, const Model *m, ChildArgs *a, Err *e)
{
        for (unsigned i = 0; i < m->n_drives; i++) {
                const ModelDrive *d = &m->drives[i];
                LoopDev *l = &en->loops[en->n_loops];
                int r = loopdev_attach(d->fd, d->cfg.is_read_only, l);
                if (r < 0)
                        return err_set(e, r, "drive '%s': cannot attach a loop device: %s",
                                       d->cfg.drive_id, strerror(-r));
                en->n_loops++;
                snprintf(a->devs[i], sizeof(a->devs[i]), "vd%c=%u:%u", 'a' + i, l->major, l->minor);
        }
        return 0;
}

/* The guest's vsock listener: an abstract name (nothing on disk) unique to this process. */
static int agent_listen(Engine *en, int *ret_fd)
{
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
                rnd = (uint64_t)now_us();
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "ember-vmm/%d/%016llx/agent",
                         (int)getpid(), (unsigned long long)rnd);
        socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, AGENT_BACKLOG) < 0)
                return -errno;
        en->agent_addr = sa;
        en->agent_len = len;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void build_argv(const Engine *en, const Model *m, ChildArgs *a)
{
        size_t k = 0;
        snprintf(a->agent_fd_str, sizeof(a->agent_fd_str), "%d", a->agent_fd);
        a->argv[k++] = en->init_path;
        a->argv[k++] = "--process-engine";
        a->argv[k++] = "--cmdline";
        a->argv[k++] = (char *)model_cmdline(m);
        a->argv[k++] = "--agent-fd";
        a->argv[k++] = a->agent_fd_str;
        for (unsigned i = 0; i < m->n_drives; i++) {
                a->argv[k++] = "--dev";
                a->argv[k++] = a->devs[i];
        }
        a->argv[k] = NULL;
}

/* In the child, between clone and exec: system calls only (no malloc, no stdio). */
static _Noreturn void child_run(const ChildArgs *a)
{
        struct pollfd parent = {.fd = a->parent_pidfd, .events = POLLIN};
        sigset_t none;
        /* ember-vmm's death takes the guest down; checked after, in case it already died */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (poll(&parent, 1, 0) != 0)
                _exit(127);
        /* the guest's mounts must never propagate back to the host */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                goto fail;
        (void)setsid();
        if (dup2(a->null_fd, STDIN_FILENO) < 0 || dup2(a->console_fd, STDOUT_FILENO) < 0 ||
            dup2(a->console_fd, STDERR_FILENO) < 0)
                goto fail;
        /* every fd but stdio and the agent listener closes on exec */
        if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0 || fcntl(a->agent_fd, F_SETFD, 0) < 0)
                goto fail;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)signal(SIGPIPE, SIG_DFL);
        execve(a->argv[0], a->argv, child_env);
fail:;
        int err = errno;
        ssize_t _unused_ w = write(a->err_fd, &err, sizeof(err));
        _exit(127);
}

static void kill_and_reap(Engine *en)
{
        if (!en->pid || en->reaped)
                return;
        (void)pidfd_send_signal(en->pidfd, SIGKILL, NULL, 0);
        while (waitid(P_PIDFD, (id_t)en->pidfd, &en->status, WEXITED) < 0 && errno == EINTR)
                ;
        en->reaped = true;
}

/* Waits for the child's exec: EOF on the CLOEXEC pipe = exec'd, an int = its errno. */
static int wait_exec(int err_fd, Err *e)
{
        int child_errno = 0;
        int r = fd_read_exact(err_fd, &child_errno, sizeof(child_errno),
                              now_ms() + COMPAT_START_DEADLINE_MS);
        if (r == -EPIPE)
                return 0;
        if (r == 0)
                return err_set(e, child_errno, "cannot exec emberd-init: %s", strerror(child_errno));
        return err_set(e, r, "emberd-init did not start: %s", strerror(-r));
}

static int spawn(Engine *en, ChildArgs *a, Err *e)
{
        int pipefd[2], pidfd = -1;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return err_set(e, errno, "pipe: %s", strerror(errno));
        _cleanup_close_ int rd = pipefd[0], wr = pipefd[1];
        _cleanup_close_ int self = pidfd_open(getpid(), 0);
        if (self < 0)
                return err_set(e, errno, "pidfd_open: %s", strerror(errno));
        a->err_fd = wr;
        a->parent_pidfd = self;
        struct clone_args ca = {
                .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
                         CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid == 0)
                child_run(a);
        if (pid < 0)
                return err_set(e, errno, "clone3: %s", strerror(errno));
        en->pid = (pid_t)pid;
        en->pidfd = pidfd;
        closep(&wr);
        wr = -1; /* only the child holds the write end now: EOF = exec'd */
        int r = wait_exec(rd, e);
        if (r < 0)
                kill_and_reap(en);
        return r;
}

/* A failed InstanceStart may be retried (Firecracker allows it): forget the dead child. */
static void forget_child(Engine *en)
{
        kill_and_reap(en);
        if (en->pidfd >= 0)
                close(en->pidfd);
        en->pidfd = -1;
        en->pid = 0;
        en->reaped = false;
        release_loops(en);
}

static int process_start(Engine *en, const Model *m, int console_fd, Err *e)
{
        ChildArgs a = {.agent_fd = -1, .console_fd = console_fd};
        _cleanup_close_ int agent = -1, null_fd = -1;
        forget_child(en);
        log_info("process engine: NOT an isolation boundary; for tests and development");
        log_info("process engine: vcpu_count=%llu mem_size_mib=%llu recorded, not enforced",
                 (unsigned long long)m->machine.vcpu_count,
                 (unsigned long long)m->machine.mem_size_mib);
        if (access(en->init_path, X_OK) < 0)
                return err_set(e, errno, "emberd-init not found at '%s': %s (see --init)",
                               en->init_path, strerror(errno));
        en->agent_port = agent_port(m);
        int r = attach_drives(en, m, &a, e);
        if (r >= 0 && (r = agent_listen(en, &agent)) < 0)
                err_set(e, r, "agent socket: %s", strerror(-r));
        if (r >= 0 && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
                r = err_set(e, errno, "/dev/null: %s", strerror(errno));
        if (r >= 0) {
                a.agent_fd = agent;
                a.null_fd = null_fd;
                build_argv(en, m, &a);
                r = spawn(en, &a, e);
        }
        if (r < 0)
                forget_child(en);
        return r;
}

static int process_ctrl_alt_del(Engine *en, Err *e)
{
        /* emberd-init turns SIGINT into an orderly shutdown, then exits (a guest reboot) */
        if (!en->pid || en->reaped || pidfd_send_signal(en->pidfd, SIGINT, NULL, 0) < 0)
                return err_set(e, ESRCH, "the guest is not running");
        return 0;
}

static int process_open_port(Engine *en, uint32_t port, int *ret_fd)
{
        if (!en->pid || en->reaped || port != en->agent_port)
                return -ECONNREFUSED; /* nothing listens there: a guest RST */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* non-blocking: a full backlog (EAGAIN) is refused like a busy guest */
        if (connect(fd, (struct sockaddr *)&en->agent_addr, en->agent_len) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int process_exit_fd(Engine *en) { return en->pid && !en->reaped ? en->pidfd : -1; }

static int process_reap(Engine *en, char *how, size_t how_size)
{
        if (!en->pid)
                return -ECHILD;
        if (!en->reaped) {
                int r;
                while ((r = waitid(P_PIDFD, (id_t)en->pidfd, &en->status, WEXITED)) < 0 &&
                       errno == EINTR)
                        ;
                if (r < 0)
                        return -errno;
                en->reaped = true;
        }
        if (en->status.si_code == CLD_EXITED)
                snprintf(how, how_size, "exited with status %d", en->status.si_status);
        else
                snprintf(how, how_size, "was killed by signal %d", en->status.si_status);
        return 0;
}

static void process_destroy(Engine *en)
{
        if (!en)
                return;
        forget_child(en);
        free(en->init_path);
        free(en);
}

const EngineOps engine_process_ops = {
        .name = "process",
        .create = process_create,
        .start = process_start,
        .ctrl_alt_del = process_ctrl_alt_del,
        .open_port = process_open_port,
        .exit_fd = process_exit_fd,
        .reap = process_reap,
        .destroy = process_destroy,
};
