/* test-agent.c — the real agent loop (agent_serve) on a Unix listener in a forked child,
 * without namespaces, driven through src/proto like emberd would: ping, output, exit codes,
 * stdin, timeouts, caps, env/cwd, code files, KILL, a vanishing host, orphans, the handler
 * limit and shutdown; then an agent with per-exec cgroups on this host's cgroup2 (cgtest.h).
 * Every process and cgroup the test starts is killed, reaped and removed before it ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "agent.h"
#include "cgroup.h"
#include "cgtest.h"
#include "shared/log.h"
#include "shared/util.h"

static char tmpdir[256], sock_path[300], exec_dir[300];
static const char *dial_path = sock_path; /* the agent run() talks to */
static pid_t agent_pid;

typedef struct Result {
        Buf out, err;
        ProtoExit exit;
        bool got_exit, got_error;
        uint32_t error_errno;
} Result;

static void result_free(Result *r)
{
        buf_free(&r->out);
        buf_free(&r->err);
}

static pid_t start_agent(const char *path, unsigned max_handlers, int cgroup_fd)
{
        int lfd;
        if (unix_listen(path, 64, &lfd) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                AgentConfig cfg;
                agent_config_init(&cfg);
                cfg.exec_dir = exec_dir;
                cfg.default_cwd = tmpdir;
                cfg.max_handlers = max_handlers;
                cfg.cgroup_fd = cgroup_fd;
                _exit(agent_serve(lfd, &cfg) == SIGTERM ? 0 : 1);
        }
        close(lfd);
        return pid;
}

static int stop_agent(pid_t pid)
{
        int st = -1;
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        return st;
}

static int dial(void)
{
        int fd = -1;
        CHECK_EQ_INT(unix_connect(dial_path, &fd), 0);
        return fd;
}

static int64_t deadline(void) { return now_ms() + 60000; }

/* Reads frames until EXIT, ERROR or EOF. */
static void collect(int fd, Result *r)
{
        buf_init(&r->out, 64u << 20);
        buf_init(&r->err, 64u << 20);
        for (;;) {
                ProtoFrame f;
                if (proto_read_frame(fd, &f, deadline()) < 0)
                        return;
                if (f.hdr.type == PROTO_STDOUT)
                        buf_append(&r->out, f.payload, f.hdr.len);
                else if (f.hdr.type == PROTO_STDERR)
                        buf_append(&r->err, f.payload, f.hdr.len);
                else if (f.hdr.type == PROTO_EXIT)
                        r->got_exit = proto_exit_unpack(f.payload, f.hdr.len, &r->exit) == 0;
                else if (f.hdr.type == PROTO_ERROR) {
                        const char *m;
                        size_t ml;
                        r->got_error = proto_error_unpack(f.payload, f.hdr.len, &r->error_errno, &m, &ml) == 0;
                }
                proto_frame_free(&f);
                if (r->got_exit || r->got_error)
                        return;
        }
}

static int send_exec(int fd, const ProtoExec *x)
{
        uint8_t *p;
        size_t n;
        int r = proto_exec_encode(x, &p, &n);
        if (r >= 0)
                r = proto_write_frame(fd, PROTO_EXEC, p, n, deadline());
        free(p);
        return r;
}

static void run(const ProtoExec *x, const void *in, size_t in_len, Result *r)
{
        *r = (Result){0};
        _cleanup_close_ int fd = dial();
        CHECK_EQ_INT(send_exec(fd, x), 0);
        for (size_t off = 0; off < in_len; off += PROTO_MAX_DATA)
                if (proto_write_frame(fd, PROTO_STDIN, (const uint8_t *)in + off, MIN(in_len - off, PROTO_MAX_DATA),
                                      deadline()) < 0)
                        break; /* the program may be gone already */
        (void)proto_write_frame(fd, PROTO_STDIN_EOF, NULL, 0, deadline());
        collect(fd, r);
        CHECK(r->got_exit);
}

static void run_argv(const char *const *argv, Result *r)
{
        uint32_t n = 0;
        while (argv[n])
                n++;
        ProtoExec x = {.argv = (const char **)argv, .argc = n};
        run(&x, NULL, 0, r);
}

static bool out_is(const Result *r, const char *s)
{
        return r->out.len == strlen(s) && memcmp(r->out.data, s, r->out.len) == 0;
}

static bool contains(const Buf *b, const char *s)
{
        return b->len >= strlen(s) && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

/* Polls (bounded, not a timing assertion) until the process is gone and reaped. */
static bool gone(pid_t pid)
{
        for (int i = 0; i < 1000; i++) {
                if (kill(pid, 0) < 0 && errno == ESRCH)
                        return true;
                sleep_ms(10);
        }
        return false;
}

static size_t agent_children(void)
{
        char path[64], *text = NULL;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", agent_pid, agent_pid);
        if (read_file(path, 65536, &text, NULL) < 0)
                return 0;
        size_t n = 0;
        for (char *p = strtok(text, " \n"); p; p = strtok(NULL, " \n"))
                n++;
        free(text);
        return n;
}

static bool no_children_left(void)
{
        for (int i = 0; i < 1000 && agent_children() > 0; i++)
                sleep_ms(10);
        return agent_children() == 0;
}

static void test_ping(void)
{
        _cleanup_close_ int fd = dial();
        CHECK_EQ_INT(proto_write_frame(fd, PROTO_PING, NULL, 0, deadline()), 0);
        ProtoFrame f;
        CHECK_EQ_INT(proto_read_frame(fd, &f, deadline()), 0);
        CHECK_EQ_INT(f.hdr.type, PROTO_PONG);
        /* TLV: tag 1 = version string with its NUL, tag 2 = u32 uptime */
        CHECK(f.hdr.len >= 8 + 12 + 8 + 4);
        uint16_t tag;
        uint32_t len;
        memcpy(&tag, f.payload, 2);
        memcpy(&len, f.payload + 4, 4);
        CHECK_EQ_INT(tag, PONG_TAG_AGENT_VERSION);
        CHECK(!strncmp((char *)f.payload + 8, "emberd-init ", 12));
        CHECK_EQ_INT(f.payload[8 + len - 1], 0);
        memcpy(&tag, f.payload + 8 + len, 2);
        CHECK_EQ_INT(tag, PONG_TAG_UPTIME_MS);
        proto_frame_free(&f);
        /* and the agent closes */
        CHECK_EQ_INT(proto_read_frame(fd, &f, deadline()), -EPIPE);
}

static void test_basic(void)
{
        Result r;
        run_argv((const char *[]){"echo", "hi", NULL}, &r);
        CHECK(out_is(&r, "hi\n"));
        CHECK_EQ_INT(r.err.len, 0);
        CHECK_EQ_INT(r.exit.exit_code, 0);
        CHECK_EQ_INT(r.exit.signal, 0);
        CHECK_EQ_INT(r.exit.flags, 0);
        CHECK_EQ_INT(r.exit.stdout_bytes, 3);
        result_free(&r);

        run_argv((const char *[]){"sh", "-c", "echo out; echo bad >&2; exit 3", NULL}, &r);
        CHECK(out_is(&r, "out\n"));
        CHECK(r.err.len == 4 && !memcmp(r.err.data, "bad\n", 4));
        CHECK_EQ_INT(r.exit.exit_code, 3);
        CHECK_EQ_INT(r.exit.stderr_bytes, 4);
        result_free(&r);

        run_argv((const char *[]){"sh", "-c", "kill -9 $$", NULL}, &r);
        CHECK_EQ_INT(r.exit.exit_code, -1);
        CHECK_EQ_INT(r.exit.signal, 9);
        result_free(&r);

        run_argv((const char *[]){"echo", "$HOME", "a b", NULL}, &r); /* no shell in between */
        CHECK(out_is(&r, "$HOME a b\n"));
        result_free(&r);
}

static void test_stdin(void)
{
        Result r;
        ProtoExec cat = {.argv = (const char *[]){"cat", NULL}, .argc = 1};
        run(&cat, "hello\nworld", 11, &r);
        CHECK(out_is(&r, "hello\nworld"));
        result_free(&r);

        /* more than the stdin queue, so the host is held back until the program reads */
        size_t big = 3u << 20;
        char *data = malloc(big);
        memset(data, 'x', big);
        ProtoExec wc = {.argv = (const char *[]){"wc", "-c", NULL}, .argc = 2};
        run(&wc, data, big, &r);
        CHECK(out_is(&r, "3145728\n"));
        result_free(&r);

        /* the program closes its stdin at once: EPIPE must not break the exec */
        ProtoExec early = {.argv = (const char *[]){"sh", "-c", "exec 0<&-; echo done", NULL}, .argc = 3};
        run(&early, data, 1u << 20, &r);
        CHECK(out_is(&r, "done\n"));
        CHECK_EQ_INT(r.exit.exit_code, 0);
        result_free(&r);

        /* the program exits while the host is still sending stdin: the agent must not reset
         * the connection (relays would drop the EXIT); every write succeeds, then EXIT */
        {
                _cleanup_close_ int fd = dial();
                ProtoExec t = {.argv = (const char *[]){"true", NULL}, .argc = 1};
                CHECK_EQ_INT(send_exec(fd, &t), 0);
                ProtoFrame f;
                CHECK_EQ_INT(proto_read_frame(fd, &f, deadline()), 0); /* EXIT before any stdin */
                CHECK_EQ_INT(f.hdr.type, PROTO_EXIT);
                proto_frame_free(&f);
                int failed = 0;
                for (size_t off = 0; off < (2u << 20); off += PROTO_MAX_DATA)
                        failed += proto_write_frame(fd, PROTO_STDIN, data, PROTO_MAX_DATA, deadline()) < 0;
                failed += proto_write_frame(fd, PROTO_STDIN_EOF, NULL, 0, deadline()) < 0;
                CHECK_EQ_INT(failed, 0);
                CHECK_EQ_INT(proto_read_frame(fd, &f, deadline()), -EPIPE); /* a clean EOF */
        }
        free(data);

        /* no STDIN frames at all, only EOF */
        run(&cat, NULL, 0, &r);
        CHECK_EQ_INT(r.out.len, 0);
        CHECK_EQ_INT(r.exit.exit_code, 0);
        result_free(&r);
}

static void test_timeout(void)
{
        Result r;
        ProtoExec x = {.argv = (const char *[]){"sh", "-c", "echo before; sleep 100 & sleep 100; echo never", NULL},
                       .argc = 3, .timeout_ms = 300};
        run(&x, NULL, 0, &r);
        CHECK(out_is(&r, "before\n"));
        CHECK_EQ_INT(r.exit.flags & EXIT_F_TIMED_OUT, EXIT_F_TIMED_OUT);
        CHECK_EQ_INT(r.exit.signal, 9);
        CHECK_EQ_INT(r.exit.exit_code, -1);
        result_free(&r);
        CHECK(no_children_left()); /* both sleeps died with the group */
}

static void test_caps(void)
{
        Result r;
        /* an endless flood: capped at the default, flagged, still drained until the timeout */
        ProtoExec yes = {.argv = (const char *[]){"yes", NULL}, .argc = 1, .timeout_ms = 500};
        run(&yes, NULL, 0, &r);
        CHECK_EQ_INT(r.out.len, EXEC_DEFAULT_OUTPUT_CAP);
        CHECK_EQ_INT(r.exit.flags, EXIT_F_TIMED_OUT | EXIT_F_STDOUT_TRUNC);
        CHECK(r.exit.stdout_bytes > EXEC_DEFAULT_OUTPUT_CAP);
        result_free(&r);

        ProtoExec small = {.argv = (const char *[]){"sh", "-c", "head -c 5000 /dev/zero; head -c 300 /dev/zero >&2", NULL},
                           .argc = 3, .stdout_cap = 1000, .stderr_cap = 300};
        run(&small, NULL, 0, &r);
        CHECK_EQ_INT(r.out.len, 1000);
        CHECK_EQ_INT(r.err.len, 300);
        CHECK_EQ_INT(r.exit.flags, EXIT_F_STDOUT_TRUNC); /* exactly at the cap is not truncated */
        CHECK_EQ_INT(r.exit.stdout_bytes, 5000);
        CHECK_EQ_INT(r.exit.stderr_bytes, 300);
        CHECK_EQ_INT(r.exit.exit_code, 0);
        result_free(&r);

        /* a big burst on both streams at once with a default cap: nothing lost below it */
        ProtoExec both = {.argv = (const char *[]){"sh", "-c", "head -c 900000 /dev/zero >&2 & head -c 900000 /dev/zero; wait", NULL},
                          .argc = 3};
        run(&both, NULL, 0, &r);
        CHECK_EQ_INT(r.out.len, 900000);
        CHECK_EQ_INT(r.err.len, 900000);
        CHECK_EQ_INT(r.exit.flags, 0);
        result_free(&r);
}

static long status_kib(pid_t pid, const char *field)
{
        char path[64], *text = NULL;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (read_file(path, 65536, &text, NULL) < 0)
                return -1;
        char *p = strstr(text, field);
        long v = p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
        free(text);
        return v;
}

/* The largest resident size among the agent's children (the handlers). */
static long handlers_rss_kib(void)
{
        char path[64], *text = NULL;
        long max = 0;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", agent_pid, agent_pid);
        if (read_file(path, 65536, &text, NULL) < 0)
                return -1;
        for (char *t = strtok(text, " \n"); t; t = strtok(NULL, " \n"))
                max = MAX(max, status_kib((pid_t)atoi(t), "VmRSS:"));
        free(text);
        return max;
}

static void test_flood_memory(void)
{
        /* `yes` floods while the host reads nothing: the handler's memory stays bounded by
         * its queues (a few hundred KiB) instead of following the flood */
        _cleanup_close_ int fd = dial();
        ProtoExec x = {.argv = (const char *[]){"yes", NULL}, .argc = 1, .timeout_ms = 1500};
        long base = status_kib(getpid(), "VmRSS:");
        CHECK_EQ_INT(send_exec(fd, &x), 0);
        long peak = 0;
        for (int i = 0; i < 50; i++) { /* samples while the flood runs and nobody reads */
                peak = MAX(peak, handlers_rss_kib());
                sleep_ms(20);
        }
        CHECK(peak > 0);
        CHECK(peak < base + 16 * 1024);
        Result r = {0};
        collect(fd, &r);
        CHECK(r.got_exit);
        CHECK_EQ_INT(r.out.len, EXEC_DEFAULT_OUTPUT_CAP);
        CHECK_EQ_INT(r.exit.flags, EXIT_F_TIMED_OUT | EXIT_F_STDOUT_TRUNC);
        result_free(&r);
}

static void test_slow_host(void)
{
        /* the program writes and exits while the host is not reading: the output queued in
         * the pipes must still arrive (the post-exit drain does not count host slowness) */
        _cleanup_close_ int fd = dial();
        ProtoExec x = {.argv = (const char *[]){"sh", "-c", "head -c 560000 /dev/zero; head -c 30000 /dev/zero >&2", NULL},
                       .argc = 3};
        CHECK_EQ_INT(send_exec(fd, &x), 0);
        CHECK_EQ_INT(proto_write_frame(fd, PROTO_STDIN_EOF, NULL, 0, deadline()), 0);
        sleep_ms(600); /* creates the condition; nothing below depends on timing */
        Result r = {0};
        collect(fd, &r);
        CHECK(r.got_exit);
        CHECK_EQ_INT(r.out.len, 560000);
        CHECK_EQ_INT(r.err.len, 30000);
        CHECK_EQ_INT(r.exit.flags, 0);
        result_free(&r);
}

static void test_env_cwd(void)
{
        Result r;
        ProtoExec x = {.argv = (const char *[]){"sh", "-c", "echo \"$FOO|$HOME|$LANG|$PATH\"; pwd", NULL},
                       .argc = 3, .env = (const char *[]){"FOO=bar baz", NULL}, .envc = 1, .cwd = "/"};
        run(&x, NULL, 0, &r);
        CHECK(out_is(&r, "bar baz|/root|C.UTF-8|" AGENT_DEFAULT_PATH "\n/\n"));
        result_free(&r);

        ProtoExec def = {.argv = (const char *[]){"pwd", NULL}, .argc = 1};
        char want[300];
        snprintf(want, sizeof(want), "%s\n", tmpdir);
        run(&def, NULL, 0, &r);
        CHECK(out_is(&r, want)); /* the agent's default cwd */
        result_free(&r);

        ProtoExec path = {.argv = (const char *[]){"ls", NULL}, .argc = 1, .env = (const char *[]){"PATH=/nonexistent", NULL},
                          .envc = 1};
        run(&path, NULL, 0, &r); /* PATH of the request, not the agent's */
        CHECK_EQ_INT(r.exit.exit_code, 127);
        result_free(&r);
}

static void test_exec_failures(void)
{
        Result r;
        run_argv((const char *[]){"/no/such/program", NULL}, &r);
        CHECK_EQ_INT(r.exit.exit_code, 127);
        CHECK(contains(&r.err, "ember: /no/such/program: No such file or directory"));
        result_free(&r);

        char noexec[320];
        snprintf(noexec, sizeof(noexec), "%s/noexec", tmpdir);
        CHECK_EQ_INT(write_file(noexec, "echo x\n", 7, 0644), 0);
        run_argv((const char *[]){noexec, NULL}, &r); /* not executable: EACCES */
        CHECK_EQ_INT(r.exit.exit_code, 126);
        CHECK(contains(&r.err, "Permission denied"));
        result_free(&r);
        unlink(noexec);

        ProtoExec x = {.argv = (const char *[]){"true", NULL}, .argc = 1, .cwd = "/no/such/dir"};
        run(&x, NULL, 0, &r);
        CHECK_EQ_INT(r.exit.exit_code, 126);
        CHECK(contains(&r.err, "/no/such/dir"));
        result_free(&r);
}

static void test_code(void)
{
        Result r;
        static const char code[] = "echo from-code; echo \"$0\"";
        ProtoExec x = {.argv = (const char *[]){"sh", NULL}, .argc = 1, .code = (const uint8_t *)code,
                       .code_len = sizeof(code) - 1, .code_name = "main.sh"};
        run(&x, NULL, 0, &r);
        CHECK(contains(&r.out, "from-code\n"));
        CHECK(contains(&r.out, exec_dir));
        CHECK(contains(&r.out, "/main.sh\n"));
        CHECK_EQ_INT(r.exit.exit_code, 0);
        result_free(&r);

        /* code alone: the file is the program (0700, shebang); default name "main" */
        static const char script[] = "#!/bin/sh\necho \"direct ${0##*/}\"\n";
        ProtoExec y = {.code = (const uint8_t *)script, .code_len = sizeof(script) - 1};
        run(&y, NULL, 0, &r);
        CHECK(out_is(&r, "direct main\n"));
        result_free(&r);

        /* the per-exec directories are gone once EXIT has been sent */
        DIR *d = opendir(exec_dir);
        int entries = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                entries += de->d_name[0] != '.';
        if (d)
                closedir(d);
        CHECK_EQ_INT(entries, 0);
}

/* Starts `sh -c 'echo $$; exec sleep 100'` and returns the connection and the sleep's pid. */
static int start_sleeper(pid_t *ret_pid)
{
        int fd = dial();
        ProtoExec x = {.argv = (const char *[]){"sh", "-c", "echo $$; exec sleep 100", NULL}, .argc = 3};
        CHECK_EQ_INT(send_exec(fd, &x), 0);
        ProtoFrame f;
        CHECK_EQ_INT(proto_read_frame(fd, &f, deadline()), 0);
        CHECK_EQ_INT(f.hdr.type, PROTO_STDOUT);
        *ret_pid = (pid_t)atoi((char *)f.payload);
        proto_frame_free(&f);
        CHECK(*ret_pid > 0);
        return fd;
}

static void test_kill_and_vanish(void)
{
        pid_t pid;
        int fd = start_sleeper(&pid);
        CHECK_EQ_INT(proto_write_frame(fd, PROTO_KILL, NULL, 0, deadline()), 0);
        Result r = {0};
        collect(fd, &r);
        CHECK(r.got_exit);
        CHECK_EQ_INT(r.exit.signal, 9);
        CHECK_EQ_INT(r.exit.flags & EXIT_F_TIMED_OUT, 0);
        result_free(&r);
        close(fd);
        CHECK(gone(pid));

        /* the host goes away mid-exec: the program is killed, the handler ends */
        fd = start_sleeper(&pid);
        close(fd);
        CHECK(gone(pid));
        CHECK(no_children_left());
}

static void test_orphans(void)
{
        Result r;
        /* a grandchild that escapes the process group (setsid) and keeps stdout open: the
         * EXIT still comes (drain is bounded) and the orphan is reaped when it ends */
        run_argv((const char *[]){"sh", "-c", "setsid sh -c 'sleep 0.3; echo late' & echo parent", NULL}, &r);
        CHECK(contains(&r.out, "parent\n"));
        CHECK_EQ_INT(r.exit.exit_code, 0);
        result_free(&r);
        /* double fork inside the group: killed with the group, reaped */
        run_argv((const char *[]){"sh", "-c", "(sleep 100 &) ; echo done", NULL}, &r);
        CHECK(out_is(&r, "done\n"));
        result_free(&r);
        CHECK(no_children_left()); /* no zombie, no survivor */
}

static void test_protocol_abuse(void)
{
        /* a malformed EXEC gets an ERROR */
        _cleanup_close_ int fd = dial();
        uint8_t junk[16] = {1, 0, 0, 0, 200, 0, 0, 0};
        CHECK_EQ_INT(proto_write_frame(fd, PROTO_EXEC, junk, sizeof(junk), deadline()), 0);
        Result r = {0};
        collect(fd, &r);
        CHECK(r.got_error);
        CHECK_EQ_INT(r.error_errno, EBADMSG);
        result_free(&r);

        /* a first frame that is neither PING nor EXEC: closed */
        _cleanup_close_ int fd2 = dial();
        CHECK_EQ_INT(proto_write_frame(fd2, PROTO_STDIN, "x", 1, deadline()), 0);
        ProtoFrame f;
        CHECK_EQ_INT(proto_read_frame(fd2, &f, deadline()), -EPIPE);

        /* a wrong protocol version: closed */
        _cleanup_close_ int fd3 = dial();
        uint8_t hdr[8] = {99, PROTO_PING, 0, 0, 0, 0, 0, 0};
        CHECK_EQ_INT(fd_write_all(fd3, hdr, 8, deadline()), 0);
        CHECK_EQ_INT(proto_read_frame(fd3, &f, deadline()), -EPIPE);

        /* an unexpected frame during an exec: the program is killed, no EXIT */
        pid_t pid;
        _cleanup_close_ int fd4 = start_sleeper(&pid);
        CHECK_EQ_INT(proto_write_frame(fd4, PROTO_PING, NULL, 0, deadline()), 0);
        CHECK(gone(pid));
        Result r2 = {0};
        collect(fd4, &r2);
        CHECK(!r2.got_exit);
        result_free(&r2);
}

static void test_concurrent(void)
{
        enum { N = 6 };
        int fds[N];
        for (int i = 0; i < N; i++) {
                char code[64];
                snprintf(code, sizeof(code), "sleep 0.1; echo %d", i * 2);
                ProtoExec x = {.argv = (const char *[]){"sh", "-c", code, NULL}, .argc = 3};
                fds[i] = dial();
                CHECK_EQ_INT(send_exec(fds[i], &x), 0);
                CHECK_EQ_INT(proto_write_frame(fds[i], PROTO_STDIN_EOF, NULL, 0, deadline()), 0);
        }
        for (int i = 0; i < N; i++) {
                Result r = {0};
                char want[16];
                collect(fds[i], &r);
                snprintf(want, sizeof(want), "%d\n", i * 2);
                CHECK(out_is(&r, want));
                result_free(&r);
                close(fds[i]);
        }
}

static void test_handler_limit(void)
{
        char path[320];
        snprintf(path, sizeof(path), "%s/limited.sock", tmpdir);
        pid_t pid = start_agent(path, 2, -1);
        int a, b, c;
        CHECK_EQ_INT(unix_connect(path, &a), 0);
        CHECK_EQ_INT(unix_connect(path, &b), 0);
        sleep_ms(50); /* let both be accepted first (ordering only; the checks below do not time) */
        CHECK_EQ_INT(unix_connect(path, &c), 0);
        /* the third is closed without an answer even though it pings */
        /* the agent may already have closed it: then the write itself fails */
        int w = proto_write_frame(c, PROTO_PING, NULL, 0, deadline());
        CHECK(w == 0 || w == -EPIPE || w == -ECONNRESET);
        ProtoFrame f;
        int r = proto_read_frame(c, &f, deadline());
        CHECK(r == -EPIPE || r == -ECONNRESET);
        close(c);
        close(a);
        close(b);
        /* once the silent handlers are gone, a ping is served again */
        bool served = false;
        for (int i = 0; i < 500 && !served; i++) {
                _cleanup_close_ int d = -1;
                CHECK_EQ_INT(unix_connect(path, &d), 0);
                (void)proto_write_frame(d, PROTO_PING, NULL, 0, deadline());
                if (proto_read_frame(d, &f, deadline()) == 0) {
                        served = f.hdr.type == PROTO_PONG;
                        proto_frame_free(&f);
                } else {
                        sleep_ms(10);
                }
        }
        CHECK(served);
        int st = stop_agent(pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static size_t exec_cgroups_left(int parent_fd)
{
        _cleanup_close_ int fd = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
        size_t n = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                n += !strncmp(de->d_name, "exec-", 5);
        if (d)
                closedir(d);
        return n;
}

/* An exec whose first output line is a pid; returns it. */
static pid_t run_pid(const ProtoExec *x, Result *r)
{
        run(x, NULL, 0, r);
        return r->out.len ? (pid_t)atoi((const char *)r->out.data) : 0;
}

static void cgroup_limits(bool controllers)
{
        Result r;
        ProtoExec pids = {.argv = (const char *[]){"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 100 & done; echo done", NULL},
                          .argc = 3, .pids_limit = 4};
        run(&pids, NULL, 0, &r);
        CHECK(contains(&r.out, "done"));
        CHECK_EQ_INT(r.exit.exit_code, 0);
        CHECK_EQ_INT(r.exit.flags & (EXIT_F_PIDS_LIMIT | EXIT_F_LIMITS_ENFORCED),
                     controllers ? EXIT_F_PIDS_LIMIT | EXIT_F_LIMITS_ENFORCED : 0);
        result_free(&r);
        if (!controllers)
                return;
        ProtoExec mem = {.argv = (const char *[]){"sh", "-c", "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo survived", NULL},
                         .argc = 3, .memory_limit_mib = 16};
        run(&mem, NULL, 0, &r);
        CHECK_EQ_INT(r.exit.flags & EXIT_F_OOM, EXIT_F_OOM);
        CHECK(!contains(&r.out, "survived"));
        CHECK(r.exit.peak_rss_kib <= 16 * 1024 + 64);
        result_free(&r);
}

/* An agent whose execs run in cgroups: a setsid escapee dies with its exec (at the exit and
 * at a timeout), accounting covers the exec, nothing is left in the hierarchy. */
static void test_cgroup_agent(void)
{
        CgTest t;
        int r = cgtest_create(&t);
        if (r < 0) {
                printf("test-agent: no writable cgroup2 here (%s): cgroup checks skipped\n", strerror(-r));
                return;
        }
        Err e = {0};
        int parent = t.controllers ? cgroup_init_at(t.fd, &e) : t.fd;
        CHECK(parent >= 0);
        char path[320];
        snprintf(path, sizeof(path), "%s/cgroup.sock", tmpdir);
        pid_t pid = start_agent(path, AGENT_MAX_HANDLERS, parent);
        dial_path = path;

        Result res;
        ProtoExec esc = {.argv = (const char *[]){"sh", "-c", "setsid sleep 100 & echo $!", NULL}, .argc = 3};
        pid_t escapee = run_pid(&esc, &res);
        CHECK(escapee > 0);
        CHECK_EQ_INT(res.exit.exit_code, 0);
        CHECK_EQ_INT(res.exit.flags, t.controllers ? EXIT_F_LIMITS_ENFORCED : 0);
        result_free(&res);
        CHECK(escapee > 0 && gone(escapee)); /* a process group kill would have missed it */
        CHECK_EQ_INT(exec_cgroups_left(parent), 0);

        ProtoExec tmo = {.argv = (const char *[]){"sh", "-c", "setsid sleep 100 & echo $!; exec sleep 100", NULL},
                         .argc = 3, .timeout_ms = 300};
        escapee = run_pid(&tmo, &res);
        CHECK_EQ_INT(res.exit.flags & EXIT_F_TIMED_OUT, EXIT_F_TIMED_OUT);
        CHECK_EQ_INT(res.exit.signal, 9);
        result_free(&res);
        CHECK(escapee > 0 && gone(escapee));

        ProtoExec busy = {.argv = (const char *[]){"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", NULL},
                          .argc = 3};
        run(&busy, NULL, 0, &res);
        CHECK(res.exit.cpu_time_us > 0); /* from the cgroup's cpu.stat */
        result_free(&res);
        cgroup_limits(t.controllers);
        CHECK_EQ_INT(exec_cgroups_left(parent), 0);

        dial_path = sock_path;
        int st = stop_agent(pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (parent != t.fd)
                close(parent);
        cgtest_remove(&t);
}

static void test_shutdown(void)
{
        /* SIGTERM with an exec in flight: everything is killed and reaped before it returns */
        pid_t pid;
        int fd = start_sleeper(&pid);
        int st = stop_agent(agent_pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(kill(pid, 0) < 0 && errno == ESRCH);
        Result r = {0};
        collect(fd, &r);
        CHECK(!r.got_exit);
        result_free(&r);
        close(fd);
        agent_pid = 0;
}

TEST_MAIN({
        log_set_level(LOG_ERR);
        signal(SIGPIPE, SIG_IGN);
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/ember-test-agent-XXXXXX");
        if (!mkdtemp(tmpdir))
                return 1;
        snprintf(sock_path, sizeof(sock_path), "%s/agent.sock", tmpdir);
        snprintf(exec_dir, sizeof(exec_dir), "%s/exec", tmpdir);
        agent_pid = start_agent(sock_path, AGENT_MAX_HANDLERS, -1);
        CHECK(agent_pid > 0);
        test_ping();
        test_basic();
        test_stdin();
        test_timeout();
        test_caps();
        test_slow_host();
        test_flood_memory();
        test_env_cwd();
        test_exec_failures();
        test_code();
        test_kill_and_vanish();
        test_orphans();
        test_protocol_abuse();
        test_concurrent();
        test_handler_limit();
        test_cgroup_agent();
        test_shutdown();
        if (agent_pid > 0)
                stop_agent(agent_pid);
        rm_rf(tmpdir);
})
