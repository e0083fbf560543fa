/* fc-launch.c — spawning and supervising the VMM process (see fc-launch.h).
 * posix_spawn (vfork-like, safe in a threaded daemon) with POSIX_SPAWN_SETSID and closefrom;
 * a pidfd so that a recycled pid can never be signalled. Must not wait on any other child. */
#include "fc-launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../shared/util.h"

extern char **environ;

static int spawn_attrs(posix_spawnattr_t *attr)
{
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        /* the daemon may ignore SIGPIPE or block signals; the VMM must start clean */
        int r = posix_spawnattr_init(attr);
        if (!r)
                r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                                           POSIX_SPAWN_SETSIGMASK);
        if (!r)
                r = posix_spawnattr_setsigdefault(attr, &all);
        if (!r)
                r = posix_spawnattr_setsigmask(attr, &none);
        return -r;
}

static int spawn_actions(posix_spawn_file_actions_t *fa, int console_fd, const char *dir)
{
        int r = posix_spawn_file_actions_init(fa);
        if (!r)
                r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
        if (!r)
                r = posix_spawn_file_actions_adddup2(fa, console_fd, 1);
        if (!r)
                r = posix_spawn_file_actions_adddup2(fa, console_fd, 2);
        if (!r)
                r = posix_spawn_file_actions_addclosefrom_np(fa, 3);
        if (!r)
                r = posix_spawn_file_actions_addchdir_np(fa, dir);
        return -r;
}

static FcLaunchRunner runner;

void fc_launch_set_runner(FcLaunchRunner run) { runner = run; }

typedef struct SpawnCall {
        const char *const *argv;
        posix_spawn_file_actions_t *fa;
        posix_spawnattr_t *attr;
        pid_t pid;
        int r;
} SpawnCall;

static void spawn_call(void *arg)
{
        SpawnCall *c = arg;
        c->r = -posix_spawnp(&c->pid, c->argv[0], c->fa, c->attr, (char *const *)c->argv, environ);
}

int fc_launch_spawn(const char *const *argv, const char *dir, const char *console_path,
                    FcProc *ret)
{
        _cleanup_close_ int fd = open(console_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (fd < 3) { /* keep clear of 0-2, which the child's dup2()s overwrite */
                int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (nfd < 0)
                        return -errno;
                closep(&fd);
                fd = nfd;
        }
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t fa;
        int r = spawn_attrs(&attr);
        if (r < 0)
                return r;
        r = spawn_actions(&fa, fd, dir);
        SpawnCall call = {.argv = argv, .fa = &fa, .attr = &attr, .r = r};
        if (r >= 0 && runner)
                runner(spawn_call, &call);
        else if (r >= 0)
                spawn_call(&call);
        r = call.r;
        pid_t pid = call.pid;
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r < 0)
                return r;
        /* not reaped yet, so pid cannot have been recycled */
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = -errno;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return r;
        }
        *ret = (FcProc){.pid = pid, .pidfd = pidfd};
        return 0;
}

#define FC_LAUNCH_PROC_FILE_MAX (64u * 1024) /* /proc/<pid>/stat and cmdline */

int fc_launch_start_time(pid_t pid, uint64_t *ret)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *stat = NULL;
        size_t n = 0;
        int r = read_file(path, FC_LAUNCH_PROC_FILE_MAX, &stat, &n);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* the command name (field 2) may hold spaces and parentheses: count after the last ')' */
        char *p = strrchr(stat, ')');
        for (unsigned field = 2; p && field < 22; field++)
                p = strchr(p + 1, ' ');
        if (!p)
                return -EBADMSG;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

bool fc_launch_cmdline_has(pid_t pid, const char *arg)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t n = 0;
        if (read_file(path, FC_LAUNCH_PROC_FILE_MAX, &cmd, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
                if (!strcmp(cmd + i, arg))
                        return true;
        return false;
}

int fc_launch_adopt(pid_t pid, uint64_t start_time, FcProc *ret)
{
        if (pid <= 1)
                return -ESRCH;
        /* pin the process first, then check it is the one that was recorded */
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return -errno;
        uint64_t st = 0;
        int r = fc_launch_start_time(pid, &st);
        if (r < 0)
                return r;
        if (st != start_time || fd_wait_readable(pidfd, 0) != 0) /* recycled, or a zombie */
                return -ESRCH;
        *ret = (FcProc){.pid = pid, .pidfd = TAKE_FD(pidfd), .adopted = true};
        return 0;
}

int fc_launch_wait_exit(const FcProc *p, int64_t deadline_ms)
{
        /* a pidfd stays readable after the reap, so `reaped` (another thread's) is not read */
        if (p->pidfd < 0)
                return 1;
        int r = fd_wait_readable(p->pidfd, deadline_ms);
        return r < 0 ? r : r > 0;
}

void fc_launch_kill(const FcProc *p)
{
        if (p->pidfd >= 0)
                (void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
}

int fc_launch_reap(FcProc *p)
{
        if (p->pidfd < 0 || p->reaped)
                return 0;
        if (p->adopted) { /* init (or a subreaper) reaps it; we only see it exit */
                int r = fd_wait_readable(p->pidfd, -1);
                if (r < 0)
                        return r;
                p->reaped = true;
                return 0;
        }
        siginfo_t si = {0};
        for (;;) {
                if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED) == 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        p->reaped = true;
        p->how = si.si_code;
        p->status = si.si_status;
        return 0;
}

void fc_launch_close(FcProc *p)
{
        closep(&p->pidfd);
        p->pidfd = -1;
}

static void describe_code(int how, int status, char *out, size_t out_size)
{
        if (how == CLD_EXITED)
                snprintf(out, out_size, "exited with status %d", status);
        else
                snprintf(out, out_size, "was killed by signal %d (%s)", status, sigabbrev_np(status) ? sigabbrev_np(status) : "?");
}

void fc_launch_describe(const FcProc *p, char *out, size_t out_size)
{
        if (p->reaped && !p->adopted) {
                describe_code(p->how, p->status, out, out_size);
                return;
        }
        siginfo_t si = {0};
        if (p->pidfd >= 0 &&
            waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
                describe_code(si.si_code, si.si_status, out, out_size);
        else if (p->pidfd >= 0 && fc_launch_exited(p))
                snprintf(out, out_size, "has exited");
        else
                snprintf(out, out_size, "is running");
}

/* Console text made fit for a one-line message: lines joined by " | ", empty lines
 * dropped, anything but printable ASCII shown as '?'. */
static size_t console_flatten(const char *in, size_t n, char *out, size_t out_size)
{
        size_t o = 0;
        bool sep = false;
        for (size_t i = 0; i < n && o + 4 < out_size; i++) {
                unsigned char c = (unsigned char)in[i];
                if (c == '\n' || c == '\r') {
                        sep = o > 0;
                        continue;
                }
                if (sep) {
                        memcpy(out + o, " | ", 3);
                        o += 3;
                        sep = false;
                }
                out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        out[o] = 0;
        return o;
}

void fc_launch_console_tail(const char *console_path, char *out, size_t out_size)
{
        if (out_size == 0)
                return;
        out[0] = 0;
        _cleanup_close_ int fd = open(console_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return;
        char raw[FC_CONSOLE_TAIL_MAX], flat[3 * FC_CONSOLE_TAIL_MAX];
        size_t want = MIN((size_t)st.st_size, sizeof(raw));
        off_t at = st.st_size - (off_t)want;
        ssize_t n = pread(fd, raw, want, at);
        if (n <= 0)
                return;
        const char *p = raw;
        if (at > 0) { /* begin at a line start: a cut line is noise */
                const char *nl = memchr(raw, '\n', (size_t)n);
                p = nl ? nl + 1 : raw;
        }
        size_t len = console_flatten(p, (size_t)(raw + n - p), flat, sizeof(flat));
        const char *tail = flat;
        if (len + 1 > out_size) { /* keep the newest lines */
                tail = flat + len - (out_size - 1);
                const char *bar = strstr(tail, " | ");
                if (bar)
                        tail = bar + 3;
        }
        snprintf(out, out_size, "%s", tail);
}

int fc_launch_exit_error(const FcProc *p, const char *console_path, const char *when, Err *e)
{
        char how[96], tail[FC_CONSOLE_TAIL_MAX];
        fc_launch_describe(p, how, sizeof(how));
        int n = snprintf(NULL, 0, "the VMM %s %s; console: ", how, when);
        /* the newest console lines matter most: size the tail so that the message, and the
         * context callers prefix to it, fit in an Err without cutting them off */
        size_t room = ERR_MSG_MAX > (size_t)n + FC_ERR_PREFIX_ROOM ? ERR_MSG_MAX - (size_t)n - FC_ERR_PREFIX_ROOM : 1;
        fc_launch_console_tail(console_path, tail, MIN(room, sizeof(tail)));
        if (!tail[0])
                return err_set(e, EHOSTDOWN, "the VMM %s %s (console is empty)", how, when);
        return err_set(e, EHOSTDOWN, "the VMM %s %s; console: %s", how, when, tail);
}

int fc_launch_wait_socket(const FcProc *p, const char *sock_path, const char *console_path,
                          int64_t deadline_ms, Err *e)
{
        int delay = 1;
        for (;;) {
                int fd = -1;
                int r = unix_connect(sock_path, &fd);
                if (r >= 0) {
                        close(fd);
                        return 0;
                }
                if (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN)
                        return err_set(e, -r, "cannot connect to the API socket %s: %s", sock_path,
                                       strerror(-r));
                if (deadline_left(deadline_ms) == 0)
                        return err_set(e, ETIMEDOUT, "the VMM did not open its API socket in time");
                /* sleeping on the pidfd notices a VMM that dies at once */
                if (fc_launch_wait_exit(p, MIN(now_ms() + delay, deadline_ms)) > 0)
                        return fc_launch_exit_error(p, console_path, "before its API socket was up", e);
                delay = MIN(delay * 2, 20);
        }
}
