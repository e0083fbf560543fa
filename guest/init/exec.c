/* exec.c — one EXEC request: write the code file, fork the program in its own process group
 * and its own cgroup (when PID 1 has one for us: limits, kill-all, accounting) with three
 * pipes, pump bytes both ways until it exits (or times out, or the host sends KILL), kill
 * what is left of the exec, drain, report EXIT with the verdict flags, clean up. Memory is
 * bounded by two queues, time by the timeout, the drain and the flush deadlines. A host
 * that breaks the protocol or goes away gets no EXIT: the program is killed and the handler
 * ends. Without a cgroup nothing fails: the EXIT says the limits were not enforced. */
#include "agent.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "exec-child.h"
#include "queue.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/util.h"

#define RBUF_SIZE (PROTO_HDR_SIZE + PROTO_MAX_DATA)
/* room beyond the high-water mark for one frame per stream (both may be read in one poll
 * round) and the EXIT frame */
#define OUTQ_MAX (AGENT_OUT_QUEUE + 2 * (PROTO_HDR_SIZE + PROTO_MAX_DATA) + PROTO_HDR_SIZE + PROTO_EXIT_SIZE)

typedef struct Stream {
        int fd; /* our read end; -1 at EOF */
        unsigned type;
        uint32_t cap;
        uint64_t total, sent;
        bool truncated;
} Stream;

typedef struct Exec {
        int conn, sfd;
        pid_t pid;
        int pidfd;
        int in_fd;      /* the program's stdin; -1 once closed */
        bool stdin_eof; /* the host is done: close once the queue is written */
        bool stalled;   /* a STDIN frame waits for room in inq */
        uint64_t stdin_total;
        Stream out[2];
        Queue inq, outq;
        uint8_t *rbuf; /* bytes from the host, up to one whole frame */
        size_t rlen;
        int64_t start_us, end_us, deadline_ms;
        int64_t drain_ms, drain_hard_ms; /* after the exit; -1 before */
        uint32_t timeout_ms;
        bool exited, timed_out;
        int status;
        struct rusage ru;
        ExecCgroup cg;            /* dir_fd -1 = none */
        bool enforced;            /* it has the memory and pids limits asked for */
        CgroupStats cg_stats;     /* read once the exec is over */
        char dir[PATH_MAX];       /* per-exec directory, "" when none */
        char code_path[PATH_MAX];
} Exec;

enum { PFD_CONN, PFD_STDIN, PFD_OUT, PFD_ERR, PFD_PID, PFD_SIG, PFD_N };

/* The program's whole cgroup and process group; never anything else (pid 0 or -1 would
 * be us or all). The group covers the moment between fork and the child joining the cgroup;
 * the cgroup covers whatever left the group (setsid). */
static void kill_group(const Exec *x)
{
        cgroup_exec_kill(&x->cg);
        if (x->pid > 0)
                (void)kill(-x->pid, SIGKILL);
}

static void exec_close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void exec_free(Exec *x)
{
        exec_close_fd(&x->in_fd);
        exec_close_fd(&x->out[0].fd);
        exec_close_fd(&x->out[1].fd);
        exec_close_fd(&x->pidfd);
        queue_free(&x->inq);
        queue_free(&x->outq);
        free(x->rbuf);
        cgroup_exec_finish(&x->cg, NULL);
        if (x->dir[0])
                (void)rm_rf(x->dir);
}

int exec_build_env(const ProtoExec *x, const char ***ret)
{
        static const char *const defaults[] = {"PATH=" AGENT_DEFAULT_PATH, "HOME=/root", "LANG=C.UTF-8"};
        size_t n = 0;
        const char **env = calloc(ELEMENTSOF(defaults) + x->envc + 1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                env[n++] = defaults[i];
        for (uint32_t i = 0; i < x->envc; i++) {
                const char *kv = x->env[i];
                size_t klen = strcspn(kv, "=") + 1; /* the decoder guarantees the '=' */
                size_t j = 0;
                while (j < n && strncmp(env[j], kv, klen) != 0)
                        j++;
                env[j] = kv;
                n += j == n;
        }
        env[n] = NULL;
        *ret = env;
        return 0;
}

/* Writes the code into a fresh <exec_dir>/<pid>/<code_name or main>. */
static int exec_write_code(Exec *x, const ProtoExec *req, const AgentConfig *cfg, Err *e)
{
        int r = mkdir_p(cfg->exec_dir, 0755);
        if (r < 0)
                return err_set(e, r, "mkdir %s: %s", cfg->exec_dir, strerror(-r));
        if (snprintf(x->dir, sizeof(x->dir), "%s/%d", cfg->exec_dir, (int)getpid()) >= (int)sizeof(x->dir))
                return err_set(e, ENAMETOOLONG, "exec directory: name too long");
        (void)rm_rf(x->dir); /* left by a handler that died with our pid */
        if (mkdir(x->dir, 0700) < 0)
                return err_set(e, errno, "mkdir %s: %s", x->dir, strerror(errno));
        if (snprintf(x->code_path, sizeof(x->code_path), "%s/%s", x->dir,
                     req->code_name ? req->code_name : "main") >= (int)sizeof(x->code_path))
                return err_set(e, ENAMETOOLONG, "code file: name too long");
        _cleanup_close_ int fd = open(x->code_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
        if (fd < 0)
                return err_set(e, errno, "create %s: %s", x->code_path, strerror(errno));
        r = fd_write_all(fd, req->code, req->code_len, -1);
        return r < 0 ? err_set(e, r, "write %s: %s", x->code_path, strerror(-r)) : 0;
}

/* argv of the request, plus the code file's path when there is code. */
static int exec_argv(Exec *x, const ProtoExec *req, const AgentConfig *cfg, const char ***ret, Err *e)
{
        const char **argv = calloc(req->argc + 2, sizeof(char *));
        if (!argv)
                return err_set(e, ENOMEM, "out of memory");
        for (uint32_t i = 0; i < req->argc; i++)
                argv[i] = req->argv[i];
        if (req->code) {
                int r = exec_write_code(x, req, cfg, e);
                if (r < 0) {
                        free(argv);
                        return r;
                }
                argv[req->argc] = x->code_path;
        }
        *ret = argv;
        return 0;
}

static int pipes_open(int p[3][2], Err *e)
{
        for (int i = 0; i < 3; i++)
                if (pipe2(p[i], O_CLOEXEC) < 0) {
                        int r = err_set(e, errno, "pipe: %s", strerror(errno));
                        for (int j = 0; j < i; j++) {
                                close(p[j][0]);
                                close(p[j][1]);
                        }
                        return r;
                }
        return 0;
}

static int exec_spawn(Exec *x, const ExecChild *child, Err *e)
{
        int p[3][2];
        int r = pipes_open(p, e);
        if (r < 0)
                return r;
        x->start_us = now_us();
        x->deadline_ms = x->start_us / 1000 + x->timeout_ms; /* measured from the fork */
        x->pid = fork();
        if (x->pid == 0)
                exec_child_run(child, p[0][0], p[1][1], p[2][1]);
        close(p[0][0]);
        close(p[1][1]);
        close(p[2][1]);
        x->in_fd = p[0][1];
        x->out[0].fd = p[1][0];
        x->out[1].fd = p[2][0];
        if (x->pid < 0) {
                x->pid = 0;
                return err_set(e, errno, "fork: %s", strerror(errno));
        }
        (void)setpgid(x->pid, x->pid); /* the child does it too; whoever is first wins */
        x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
        if (x->pidfd < 0) {
                r = err_set(e, errno, "pidfd_open: %s", strerror(errno));
                kill_group(x);
                (void)waitpid(x->pid, NULL, 0);
                x->pid = 0;
                return r;
        }
        for (int i = 0; i < 2; i++)
                (void)fd_nonblock(x->out[i].fd, true);
        (void)fd_nonblock(x->in_fd, true);
        log_debug("exec: pid %d: %s", (int)x->pid, child->argv[0]);
        return 0;
}

/* The exec's cgroup, when PID 1 has a parent for it; a failure only costs the limits. */
static void exec_cgroup(Exec *x, const ProtoExec *req, const AgentConfig *cfg)
{
        if (cfg->cgroup_fd < 0)
                return;
        char name[32];
        Err e = {0};
        snprintf(name, sizeof(name), "exec-%d", (int)getpid());
        uint32_t mem = MIN(req->memory_limit_mib, EXEC_MAX_MEMORY_LIMIT_MIB);
        uint32_t pids = MIN(req->pids_limit, EXEC_MAX_PIDS_LIMIT);
        if (cgroup_exec_create(cfg->cgroup_fd, name, mem, pids, &x->cg, &e) < 0)
                log_warn("exec: no cgroup, limits not enforced: %s", e.msg);
        else if (!x->cg.enforced)
                log_warn("exec: cgroup %s without memory or pids limits", name);
        x->enforced = x->cg.enforced;
}

static int exec_start(Exec *x, const ProtoExec *req, const AgentConfig *cfg, Err *e)
{
        _cleanup_free_ const char **argv = NULL;
        _cleanup_free_ const char **envp = NULL;
        int r = exec_argv(x, req, cfg, &argv, e);
        if (r < 0)
                return r;
        if (exec_build_env(req, &envp) < 0)
                return err_set(e, ENOMEM, "out of memory");
        if (!req->cwd)
                (void)mkdir(cfg->default_cwd, 0700);
        exec_cgroup(x, req, cfg);
        ExecChild child = {.argv = argv, .envp = envp, .cwd = req->cwd ? req->cwd : cfg->default_cwd,
                           .cgroup_procs_fd = x->cg.procs_fd};
        return exec_spawn(x, &child, e);
}

static void close_stdin(Exec *x)
{
        exec_close_fd(&x->in_fd);
        queue_clear(&x->inq);
}

static int on_stdin(Exec *x, const uint8_t *p, uint32_t n)
{
        if (x->stdin_total + n > EXEC_MAX_STDIN)
                return -EMSGSIZE;
        if (x->in_fd < 0 || x->stdin_eof)
                return 0; /* the program closed its stdin, or has exited: EPIPE is fine */
        if (queue_room(&x->inq) < n)
                return -EAGAIN; /* wait until the program has read some */
        x->stdin_total += n;
        return queue_push(&x->inq, p, n);
}

static int on_stdin_eof(Exec *x, const uint8_t *p, uint32_t n)
{
        x->stdin_eof = true;
        if (x->inq.len == 0)
                close_stdin(x);
        return 0;
}

static int on_kill(Exec *x, const uint8_t *p, uint32_t n)
{
        if (!x->exited)
                kill_group(x);
        return 0;
}

static const struct {
        unsigned type;
        int (*fn)(Exec *x, const uint8_t *p, uint32_t n);
} exec_frames[] = {
        {PROTO_STDIN, on_stdin},
        {PROTO_STDIN_EOF, on_stdin_eof},
        {PROTO_KILL, on_kill},
};

/* Dispatches the whole frames in rbuf; any other type is a protocol violation. */
static int process_frames(Exec *x)
{
        x->stalled = false;
        while (x->rlen >= PROTO_HDR_SIZE) {
                ProtoHdr h;
                int r = proto_hdr_parse(x->rbuf, &h);
                if (r < 0)
                        return r;
                size_t i = 0;
                while (i < ELEMENTSOF(exec_frames) && exec_frames[i].type != h.type)
                        i++;
                if (i == ELEMENTSOF(exec_frames))
                        return -EBADMSG;
                if (x->rlen < PROTO_HDR_SIZE + h.len)
                        return 0;
                r = exec_frames[i].fn(x, x->rbuf + PROTO_HDR_SIZE, h.len);
                if (r == -EAGAIN) {
                        x->stalled = true;
                        return 0;
                }
                if (r < 0)
                        return r;
                x->rlen -= PROTO_HDR_SIZE + h.len;
                memmove(x->rbuf, x->rbuf + PROTO_HDR_SIZE + h.len, x->rlen);
        }
        return 0;
}

static int read_host(Exec *x, short revents)
{
        if (x->stalled || x->rlen == RBUF_SIZE) /* not reading: only a hang-up matters */
                return revents & (POLLHUP | POLLERR) ? -ECONNRESET : 0;
        ssize_t n = read(x->conn, x->rbuf + x->rlen, RBUF_SIZE - x->rlen);
        if (n == 0)
                return -ECONNRESET; /* the host went away */
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        x->rlen += (size_t)n;
        return process_frames(x);
}

static int write_stdin(Exec *x)
{
        ssize_t n = write(x->in_fd, queue_head(&x->inq), x->inq.len);
        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        close_stdin(x); /* EPIPE: the program closed its stdin early */
                return 0;
        }
        queue_pop(&x->inq, (size_t)n);
        if (x->inq.len == 0 && x->stdin_eof)
                close_stdin(x);
        return 0;
}

static int push_frame(Queue *q, unsigned type, const void *p, size_t n)
{
        uint8_t hdr[PROTO_HDR_SIZE];
        proto_hdr_pack(hdr, type, (uint32_t)n);
        int r = queue_push(q, hdr, sizeof(hdr));
        return r < 0 ? r : queue_push(q, p, n);
}

/* Output beyond the stream's cap is read and counted but not sent. */
static int read_output(Exec *x, Stream *s)
{
        uint8_t buf[PROTO_MAX_DATA];
        if (queue_room(&x->outq) < PROTO_HDR_SIZE + sizeof(buf) + PROTO_HDR_SIZE + PROTO_EXIT_SIZE)
                return 0; /* polled again once the host has read some */
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                exec_close_fd(&s->fd);
                return 0;
        }
        s->total += (uint64_t)n;
        size_t take = (size_t)MIN((uint64_t)n, (uint64_t)s->cap - s->sent);
        s->truncated |= take < (size_t)n;
        s->sent += take;
        return take ? push_frame(&x->outq, s->type, buf, take) : 0;
}

static int flush_outq(Exec *x)
{
        ssize_t n = send(x->conn, queue_head(&x->outq), x->outq.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        queue_pop(&x->outq, (size_t)n);
        return 0;
}

static void on_exit_ready(Exec *x)
{
        int st = 0;
        struct rusage ru = {0};
        pid_t r = wait4(x->pid, &st, WNOHANG, &ru);
        if (r == 0)
                return;
        x->exited = true;
        x->end_us = now_us();
        x->status = r == x->pid ? st : 255 << 8 /* lost: as if exit(255) */;
        x->ru = ru;
}

static int poll_timeout(const Exec *x)
{
        if (x->exited) /* past the drain deadline only the hard limit wakes us (or data) */
                return deadline_left(now_ms() < x->drain_ms ? x->drain_ms : x->drain_hard_ms);
        return deadline_left(x->deadline_ms);
}

/* The timeout: kill the group. A program that still does not die (stuck in the kernel) is
 * given up on AGENT_FLUSH_MS later and reported as killed; PID 1 reaps it whenever. */
static void on_deadline(Exec *x)
{
        if (!x->timed_out) {
                x->timed_out = true;
                kill_group(x);
                x->deadline_ms = now_ms() + AGENT_FLUSH_MS;
                return;
        }
        log_warn("exec: pid %d: does not die, given up", (int)x->pid);
        x->exited = true;
        x->end_us = now_us();
        x->status = SIGKILL;
}

static void poll_setup(const Exec *x, struct pollfd p[PFD_N])
{
        bool reading = !x->stalled && x->rlen < RBUF_SIZE;
        bool out_room = x->outq.len < AGENT_OUT_QUEUE;
        p[PFD_CONN] = (struct pollfd){x->conn, (short)((reading ? POLLIN : 0) | (x->outq.len ? POLLOUT : 0)), 0};
        p[PFD_STDIN] = (struct pollfd){x->in_fd >= 0 && x->inq.len ? x->in_fd : -1, POLLOUT, 0};
        p[PFD_OUT] = (struct pollfd){out_room ? x->out[0].fd : -1, POLLIN, 0};
        p[PFD_ERR] = (struct pollfd){out_room ? x->out[1].fd : -1, POLLIN, 0};
        p[PFD_PID] = (struct pollfd){x->exited ? -1 : x->pidfd, POLLIN, 0};
        p[PFD_SIG] = (struct pollfd){x->sfd, POLLIN, 0};
}

static int poll_dispatch(Exec *x, const struct pollfd p[PFD_N])
{
        int r = 0;
        if (p[PFD_SIG].revents)
                return -ECANCELED; /* PID 1 shuts down, or is gone */
        if (p[PFD_PID].revents)
                on_exit_ready(x);
        for (int i = 0; r >= 0 && i < 2; i++)
                if (p[PFD_OUT + i].revents)
                        r = read_output(x, &x->out[i]);
        if (r >= 0 && p[PFD_STDIN].revents)
                r = write_stdin(x);
        if (r >= 0 && (p[PFD_CONN].revents & POLLOUT))
                r = flush_outq(x);
        if (r >= 0 && (p[PFD_CONN].revents & ~POLLOUT))
                r = read_host(x, p[PFD_CONN].revents);
        return r;
}

/* True when no open output pipe has data waiting right now. */
static bool pipes_idle(const Exec *x)
{
        struct pollfd p[2] = {{.fd = x->out[0].fd, .events = POLLIN}, {.fd = x->out[1].fd, .events = POLLIN}};
        return poll(p, 2, 0) <= 0;
}

/* After the program's exit: its group is killed, and the pipes are read until EOF. Only a
 * process that escaped the group (setsid) keeps them open; we stop waiting for it once they
 * stay idle past AGENT_DRAIN_MS (time spent waiting for a slow host does not count, pending
 * output is still read) and in any case at AGENT_FLUSH_MS. */
static bool drain_done(Exec *x)
{
        int64_t now = now_ms();
        if (x->drain_ms < 0) {
                kill_group(x); /* leftovers of this exec die with it */
                close_stdin(x);
                x->drain_ms = now + AGENT_DRAIN_MS;
                x->drain_hard_ms = now + AGENT_FLUSH_MS;
        }
        if (x->out[0].fd < 0 && x->out[1].fd < 0)
                return true;
        return now >= x->drain_hard_ms || (now >= x->drain_ms && pipes_idle(x));
}

static int exec_loop(Exec *x)
{
        for (;;) {
                int r = x->stalled ? process_frames(x) : 0;
                if (r < 0)
                        return r;
                if (x->exited && drain_done(x))
                        return 0;
                struct pollfd p[PFD_N];
                poll_setup(x, p);
                r = poll(p, PFD_N, poll_timeout(x));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (!x->exited && now_ms() >= x->deadline_ms)
                        on_deadline(x);
                if (r > 0 && (r = poll_dispatch(x, p)) < 0)
                        return r;
        }
}

static uint64_t tv_us(struct timeval tv) { return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec; }

static uint32_t exit_flags(const Exec *x)
{
        const CgroupStats *st = &x->cg_stats;
        bool enforced = x->enforced;
        return (x->timed_out ? EXIT_F_TIMED_OUT : 0) | (x->out[0].truncated ? EXIT_F_STDOUT_TRUNC : 0) |
               (x->out[1].truncated ? EXIT_F_STDERR_TRUNC : 0) | (enforced ? EXIT_F_LIMITS_ENFORCED : 0) |
               (enforced && st->oom ? EXIT_F_OOM : 0) | (enforced && st->pids_limit ? EXIT_F_PIDS_LIMIT : 0);
}

/* The EXIT record; the cgroup's figures (every process of the exec) where there are some. */
static void exit_record(const Exec *x, ProtoExit *ret)
{
        const CgroupStats *st = &x->cg_stats;
        *ret = (ProtoExit){
                .exit_code = WIFEXITED(x->status) ? WEXITSTATUS(x->status) : -1,
                .signal = WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0,
                .flags = exit_flags(x),
                .duration_us = (uint64_t)(x->end_us - x->start_us),
                .cpu_time_us = st->have_cpu ? st->cpu_usec : tv_us(x->ru.ru_utime) + tv_us(x->ru.ru_stime),
                .peak_rss_kib = st->have_peak ? st->peak_kib : (uint64_t)MAX(x->ru.ru_maxrss, 0L),
                .stdout_bytes = x->out[0].total,
                .stderr_bytes = x->out[1].total,
        };
}

static int exec_report(Exec *x)
{
        cgroup_exec_finish(&x->cg, &x->cg_stats); /* nothing of the exec is left after this */
        ProtoExit ex;
        exit_record(x, &ex);
        uint8_t rec[PROTO_EXIT_SIZE];
        proto_exit_pack(&ex, rec);
        if (x->dir[0]) { /* gone before the host hears of the exit */
                (void)rm_rf(x->dir);
                x->dir[0] = 0;
        }
        int r = push_frame(&x->outq, PROTO_EXIT, rec, sizeof(rec));
        if (r < 0)
                return r;
        log_debug("exec: pid %d: exit %d signal %d flags %#x", (int)x->pid, ex.exit_code, ex.signal, ex.flags);
        return fd_write_all(x->conn, queue_head(&x->outq), x->outq.len, now_ms() + AGENT_FLUSH_MS);
}

/* The host is gone or broke the protocol, or PID 1 stops us: no EXIT, nothing left. */
static void exec_abort(Exec *x, int why)
{
        log_debug("exec: pid %d: aborted: %s", (int)x->pid, strerror(-why));
        kill_group(x);
        for (int i = 0; !x->exited && i < 200; i++) {
                on_exit_ready(x);
                struct timespec ts = {0, 5 * 1000000};
                nanosleep(&ts, NULL);
        }
}

static void exec_init(Exec *x, int conn, int sfd, const ProtoExec *req)
{
        *x = (Exec){.conn = conn, .sfd = sfd, .pidfd = -1, .in_fd = -1, .deadline_ms = -1, .drain_ms = -1};
        exec_cgroup_init(&x->cg);
        x->timeout_ms = req->timeout_ms ? MIN(req->timeout_ms, EXEC_MAX_TIMEOUT_MS) : EXEC_DEFAULT_TIMEOUT_MS;
        x->out[0] = (Stream){.fd = -1, .type = PROTO_STDOUT,
                             .cap = req->stdout_cap ? MIN(req->stdout_cap, EXEC_MAX_OUTPUT_CAP) : EXEC_DEFAULT_OUTPUT_CAP};
        x->out[1] = (Stream){.fd = -1, .type = PROTO_STDERR,
                             .cap = req->stderr_cap ? MIN(req->stderr_cap, EXEC_MAX_OUTPUT_CAP) : EXEC_DEFAULT_OUTPUT_CAP};
        queue_init(&x->inq, AGENT_STDIN_QUEUE);
        queue_init(&x->outq, OUTQ_MAX);
}

int exec_run(int conn, int sfd, const uint8_t *payload, size_t len, const AgentConfig *cfg)
{
        _cleanup_(proto_exec_clear) ProtoExec req = {0};
        int r = proto_exec_decode(payload, len, &req);
        if (r < 0) {
                handler_send_error(conn, EBADMSG, "malformed EXEC request");
                return r;
        }
        _cleanup_(exec_free) Exec x;
        exec_init(&x, conn, sfd, &req);
        Err e = {0};
        x.rbuf = malloc(RBUF_SIZE);
        r = x.rbuf ? exec_start(&x, &req, cfg, &e) : err_set(&e, ENOMEM, "out of memory");
        if (r < 0) {
                log_warn("exec: %s", e.msg);
                handler_send_error(conn, -r, e.msg);
                return r;
        }
        (void)fd_nonblock(conn, true);
        r = exec_loop(&x);
        if (r < 0) {
                exec_abort(&x, r);
                return r;
        }
        return exec_report(&x);
}
