/* live.c — see live.h. */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/util.h"

int live_setup(Live *l, const char *name)
{
        *l = (Live){.pid = 0, .pidfd = -1};
        snprintf(l->dir, sizeof(l->dir), "/tmp/ember-%s-XXXXXX", name);
        if (!mkdtemp(l->dir))
                return -errno;
        snprintf(l->api, sizeof(l->api), "%s/api.sock", l->dir);
        return 0;
}

static pid_t spawn_argv(const char *const *args, int out_fd)
{
        const char *vmm = getenv("EMBER_VMM");
        const char *argv[32] = {vmm ? vmm : "ember-vmm"};
        size_t n = 1;
        for (; args && args[n - 1] && n < 31; n++)
                argv[n] = args[n - 1];
        argv[n] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
                dup2(out_fd, 1);
                dup2(out_fd, 2);
                execv(argv[0], (char *const *)argv);
                _exit(126);
        }
        return pid;
}

int live_spawn(Live *l, const char *const *args)
{
        char out[128];
        const char *argv[32] = {"--api-sock", l->api};
        size_t n = 2;
        for (size_t i = 0; args && args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        snprintf(out, sizeof(out), "%s/out", l->dir);
        _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        l->pid = spawn_argv(argv, fd);
        if (l->pid < 0)
                return -errno;
        l->pidfd = pidfd_open(l->pid, 0);
        return l->pidfd < 0 ? -errno : 0;
}

int live_connect(const char *path)
{
        int fd;
        return unix_connect(path, &fd) < 0 ? -1 : fd;
}

int live_wait_socket(const Live *l)
{
        int64_t deadline = now_ms() + LIVE_WAIT_MS;
        while (now_ms() < deadline) {
                int fd = live_connect(l->api);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                struct pollfd p = {.fd = l->pidfd, .events = POLLIN};
                if (poll(&p, 1, 10) > 0)
                        return -ECHILD; /* it exited */
        }
        return -ETIMEDOUT;
}

static int status_of(int st)
{
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int live_wait_exit(Live *l, int timeout_ms)
{
        if (l->pid <= 0)
                return -ECHILD;
        struct pollfd p = {.fd = l->pidfd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
                return -ETIMEDOUT;
        int st;
        if (waitpid(l->pid, &st, 0) < 0)
                return -errno;
        l->pid = 0;
        close(l->pidfd);
        l->pidfd = -1;
        return status_of(st);
}

int live_run(const char *const *args, char *out, size_t out_size)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = spawn_argv(args, p[1]);
        close(p[1]);
        int n = live_read_all(p[0], out, out_size - 1);
        out[n > 0 ? n : 0] = 0;
        close(p[0]);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return -ECHILD;
        return status_of(st);
}

void live_teardown(Live *l)
{
        if (l->pid > 0) {
                kill(l->pid, SIGKILL);
                waitpid(l->pid, NULL, 0);
        }
        if (l->pidfd >= 0)
                close(l->pidfd);
        l->pid = 0;
        l->pidfd = -1;
        if (l->dir[0])
                rm_rf(l->dir);
}

void live_output(const Live *l, char *buf, size_t size)
{
        char path[128];
        _cleanup_free_ char *text = NULL;
        snprintf(path, sizeof(path), "%s/out", l->dir);
        buf[0] = 0;
        if (read_file(path, 1 << 20, &text, NULL) == 0)
                snprintf(buf, size, "%s", text);
}

int live_read_all(int fd, char *buf, size_t size)
{
        size_t n = 0;
        int64_t deadline = now_ms() + LIVE_WAIT_MS;
        while (n < size) {
                int r = fd_wait_readable(fd, deadline);
                if (r <= 0)
                        return r == 0 ? -ETIMEDOUT : r;
                ssize_t k = read(fd, buf + n, size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return n ? (int)n : -errno;
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        return (int)n;
}

static long header_value(const char *head, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
                if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':')
                        return strtol(p + 3 + n, NULL, 10);
        return -1;
}

/* Reads the head byte by byte (it is small) so nothing of the body is consumed. */
static int read_head(int fd, HttpResp *r, int64_t deadline)
{
        size_t n = 0;
        while (n + 1 < sizeof(r->head)) {
                int w = fd_read_exact(fd, r->head + n, 1, deadline);
                if (w < 0)
                        return w;
                r->head[++n] = 0;
                if (n >= 4 && !memcmp(r->head + n - 4, "\r\n\r\n", 4))
                        return 0;
        }
        return -E2BIG;
}

int live_http_on(int fd, const char *method, const char *path, const char *body, HttpResp *r)
{
        char req[1024];
        int64_t deadline = now_ms() + LIVE_WAIT_MS;
        int n = body ? snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
                                "Content-Length: %zu\r\n\r\n", method, path, strlen(body))
                     : snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                method, path);
        *r = (HttpResp){0};
        int w = fd_write_all(fd, req, (size_t)n, deadline);
        if (w >= 0 && body)
                w = fd_write_all(fd, body, strlen(body), deadline);
        if (w >= 0)
                w = read_head(fd, r, deadline);
        if (w < 0)
                return w;
        r->status = (int)strtol(r->head + 9, NULL, 10);
        long len = header_value(r->head, "Content-Length");
        if (len < 0)
                return 0;
        if ((size_t)len >= sizeof(r->body))
                return -E2BIG;
        w = fd_read_exact(fd, r->body, (size_t)len, deadline);
        r->body_len = (size_t)len;
        r->body[len] = 0;
        return w;
}

int live_http(const Live *l, const char *method, const char *path, const char *body, HttpResp *r)
{
        _cleanup_close_ int fd = live_connect(l->api);
        if (fd < 0)
                return -ECONNREFUSED;
        return live_http_on(fd, method, path, body, r);
}

bool live_header_has(const HttpResp *r, const char *line)
{
        char want[256];
        snprintf(want, sizeof(want), "\r\n%s\r\n", line);
        return strstr(r->head, want) != NULL;
}
