/* agent.c — PID 1's side of the agent: accept, fork a handler per connection (at most
 * max_handlers; beyond that a new connection is closed at once), reap every child and
 * orphan, and on SIGINT/SIGTERM kill everything. It never reads a byte from a host. */
#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/util.h"

typedef struct Handlers {
        pid_t pids[AGENT_MAX_HANDLERS];
        unsigned n, max;
} Handlers;

void agent_config_init(AgentConfig *cfg)
{
        *cfg = (AgentConfig){
                .exec_dir = AGENT_EXEC_DIR,
                .default_cwd = AGENT_DEFAULT_CWD,
                .start_ms = now_ms(),
                .max_handlers = AGENT_MAX_HANDLERS,
                .cgroup_fd = -1,
        };
}

static void handlers_forget(Handlers *h, pid_t pid)
{
        for (unsigned i = 0; i < h->n; i++)
                if (h->pids[i] == pid) {
                        h->pids[i] = h->pids[--h->n];
                        return;
                }
}

static void reap(Handlers *h)
{
        for (;;) {
                int st;
                pid_t pid = waitpid(-1, &st, WNOHANG);
                if (pid <= 0)
                        return;
                if (h)
                        handlers_forget(h, pid);
        }
}

/* The direct children, from /proc/self/task/<tid>/children (we are single-threaded). */
static size_t list_children(pid_t *out, size_t max)
{
        char path[64], *text = NULL;
        size_t n = 0;
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
        if (read_file(path, 64 * 1024, &text, NULL) < 0)
                return 0;
        for (char *p = text, *end; n < max && *p; p = end) {
                long v = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (v > 0)
                        out[n++] = (pid_t)v;
        }
        free(text);
        return n;
}

void agent_kill_all(void)
{
        bool pid1 = getpid() == 1;
        int64_t deadline = now_ms() + AGENT_SHUTDOWN_MS;
        while (now_ms() < deadline) {
                if (pid1) {
                        (void)kill(-1, SIGKILL); /* everyone but us, in our pid namespace */
                } else {
                        pid_t kids[256];
                        size_t n = list_children(kids, ELEMENTSOF(kids));
                        for (size_t i = 0; i < n; i++)
                                (void)kill(kids[i], SIGKILL);
                }
                reap(NULL);
                if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
                        return;
                struct timespec ts = {0, 5 * 1000000};
                nanosleep(&ts, NULL);
        }
        log_warn("shutdown: children left after %u ms", AGENT_SHUTDOWN_MS);
}

static void accept_one(int listen_fd, int sfd, Handlers *h, const AgentConfig *cfg)
{
        _cleanup_close_ int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                        log_warn("agent: accept: %s", strerror(errno));
                        struct timespec ts = {0, 10 * 1000000}; /* e.g. EMFILE: do not spin */
                        nanosleep(&ts, NULL);
                }
                return;
        }
        if (h->n >= h->max) {
                log_warn("agent: %u handlers busy, connection refused", h->n);
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                log_warn("agent: fork: %s", strerror(errno));
                return;
        }
        if (pid == 0) {
                close(listen_fd);
                close(sfd);
                _exit(handler_main(TAKE_FD(conn), cfg));
        }
        h->pids[h->n++] = pid;
}

/* Returns the terminating signal, or 0. */
static int read_signals(int sfd, Handlers *h)
{
        struct signalfd_siginfo si;
        int term = 0;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
                        term = (int)si.ssi_signo;
        reap(h); /* SIGCHLD coalesces: always reap everything that is there */
        return term;
}

static void nop_handler(int sig) {}

int agent_serve(int listen_fd, const AgentConfig *cfg)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        /* blocked and read through signalfd; the handlers only make the signals "handled"
         * for PID 1 of a pid namespace, which would otherwise never see them */
        struct sigaction sa = {.sa_handler = nop_handler};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return -errno;
        if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return -errno;
        int r = fd_nonblock(listen_fd, true);
        if (r < 0)
                return r;
        Handlers h = {.max = MIN(cfg->max_handlers, (unsigned)AGENT_MAX_HANDLERS)};
        for (;;) {
                struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno != EINTR)
                                log_warn("agent: poll: %s", strerror(errno));
                        continue;
                }
                int sig = read_signals(sfd, &h);
                if (sig) {
                        log_info("agent: %s, stopping", strsignal(sig));
                        agent_kill_all();
                        return sig;
                }
                if (p[0].revents)
                        accept_one(listen_fd, sfd, &h, cfg);
        }
}
