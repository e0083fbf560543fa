/* main.c — emberd-init's entry point. Picks the mode (VM: PID 1 of the guest kernel, no
 * arguments; process engine: --process-engine ...), runs the boot steps, serves the agent,
 * and ends the way the host expects: a VM reboots (with reboot=k Firecracker exits; a
 * poweroff would leave it running), the process engine exits. A fatal error prints
 * "emberd-init: FATAL: <step>: <reason>" and ends the same way, never hangs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "args.h"
#include "cgroup.h"
#include "shared/log.h"
#include "shared/util.h"
#include "steps.h"

/* struct sockaddr_vm of <linux/vm_sockets.h>, which musl's headers do not carry */
struct ember_sockaddr_vm {
        sa_family_t svm_family;
        unsigned short svm_reserved1;
        unsigned int svm_port;
        unsigned int svm_cid;
        unsigned char svm_flags;
        unsigned char svm_zero[3];
};
#define EMBER_VMADDR_CID_ANY 0xffffffffu

static const char usage[] =
        "usage: emberd-init                 (as PID 1 of a guest kernel)\n"
        "       emberd-init --process-engine --cmdline \"<boot args>\" --agent-fd N [--dev vda=MAJ:MIN]...\n";

static InitMode mode;

static _Noreturn void shutdown_now(int status)
{
        agent_kill_all();
        sync();
        if (mode == INIT_VM) {
                (void)reboot(RB_AUTOBOOT);
                log_error("reboot: %s", strerror(errno)); /* PID 1 exiting panics: panic=1 reboots */
        }
        _exit(status);
}

static _Noreturn void fatal(const char *step, const char *reason)
{
        char line[ERR_MSG_MAX + 128];
        int n = snprintf(line, sizeof(line), "emberd-init: FATAL: %s: %s\n", step, reason);
        ssize_t _unused_ w = write(STDERR_FILENO, line, (size_t)MIN(n, (int)sizeof(line) - 1));
        shutdown_now(1);
}

/* The kernel gives PID 1 no fds when the initramfs lacks /dev/console: fill 0..2 with
 * something harmless so no socket or pipe of ours ever lands there. */
static void ensure_std_fds(void)
{
        for (int fd = 0; fd < 3; fd++) {
                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                int n = open("/dev/null", O_RDWR);
                if (n < 0)
                        n = open("/", O_RDONLY | O_DIRECTORY);
                if (n >= 0 && n != fd) {
                        (void)dup2(n, fd);
                        close(n);
                }
        }
}

static int vsock_listen(uint32_t port, int *ret, Err *e)
{
        _cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_set(e, errno, "socket(AF_VSOCK): %s", strerror(errno));
        struct ember_sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_port = port, .svm_cid = EMBER_VMADDR_CID_ANY};
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
                return err_set(e, errno, "vsock port %u: %s", port, strerror(errno));
        *ret = TAKE_FD(fd);
        return 0;
}

static int inherited_listener(int fd, Err *e)
{
        int v = 0;
        socklen_t l = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0)
                return err_set(e, errno, "--agent-fd %d: %s", fd, strerror(errno));
        if (!v)
                return err_set(e, EINVAL, "--agent-fd %d: not a listening socket", fd);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

static void block_signals(void)
{
        /* from the first instruction on: Ctrl-Alt-Del (SIGINT, see RB_DISABLE_CAD) or a
         * SIGTERM during boot waits for the agent loop, which handles it */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
}

static int boot(const InitArgs *a, InitConfig *ret_cfg)
{
        InitCtx c;
        Err e = {0};
        const char *step = "?";
        init_ctx_init(&c, mode, &sysops_real);
        c.cmdline = a->cmdline;
        c.devs = a->devs;
        c.n_devs = a->n_devs;
        umask(0);
        if (steps_run(&c, &step, &e) < 0)
                fatal(step, e.msg);
        umask(022);
        *ret_cfg = c.cfg;
        int fd = -1;
        int r = mode == INIT_VM ? vsock_listen(c.cfg.port, &fd, &e) : (fd = inherited_listener(a->agent_fd, &e));
        if (r < 0)
                fatal("agent", e.msg);
        return fd;
}

/* The per-exec cgroups' parent, or -1: never fatal, the agent then falls back. */
static int exec_cgroups(void)
{
        Err e = {0};
        if (mode != INIT_VM) {
                log_info("cgroup: process engine (the host's kernel and cgroups): per-exec limits "
                         "not enforced");
                return -1;
        }
        int fd = cgroup_init(&e);
        if (fd < 0)
                log_warn("cgroup: per-exec limits not enforced: %s", e.msg);
        return fd;
}

int main(int argc, char **argv)
{
        int64_t start = now_ms();
        InitArgs a;
        Err e = {0};
        log_set_prefix("emberd-init");
        ensure_std_fds();
        if (args_parse(argc, argv, &a, &e) < 0) {
                fprintf(stderr, "emberd-init: %s\n%s", e.msg, usage);
                return 2;
        }
        mode = a.process_engine ? INIT_PROCESS : INIT_VM;
        if (mode == INIT_VM && getpid() != 1) {
                fprintf(stderr, "emberd-init: without --process-engine, only PID 1 of a guest\n%s", usage);
                return 2;
        }
        block_signals();
        if (mode == INIT_VM)
                (void)reboot(RB_DISABLE_CAD);
        InitConfig cfg;
        int fd = boot(&a, &cfg);
        AgentConfig acfg;
        agent_config_init(&acfg);
        acfg.start_ms = start;
        acfg.cgroup_fd = exec_cgroups();
        log_info("ready in %lld ms; agent on %s %u", (long long)(now_ms() - start),
                 mode == INIT_VM ? "vsock port" : "fd", mode == INIT_VM ? cfg.port : (unsigned)fd);
        int r = agent_serve(fd, &acfg);
        if (r < 0)
                fatal("agent", strerror(-r));
        shutdown_now(0);
}
