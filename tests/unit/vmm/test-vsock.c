/* test-vsock.c — the hybrid-vsock handshake and the agent client against fake peers in
 * threads: OK/close/garbage/silence answers, retry and abort; ping; an exec that streams
 * megabytes of output before reading its stdin (no deadlock), output caps, and every
 * protocol failure (wrong frame, bad EXIT, EOF, ERROR, timeout -> KILL, VM gone). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../test.h"
#include "proto/proto.h"
#include "shared/util.h"
#include "vsock/agent.h"
#include "vsock/hybrid.h"

/* ---- hybrid ---- */

typedef struct Vmm {
        int listen_fd;
        const char *const *answers; /* per connection: reply to CONNECT; NULL = close, "" = silent */
        size_t n;
        char got[64];
} Vmm;

static void *vmm_serve(void *arg)
{
        Vmm *v = arg;
        for (size_t i = 0; i < v->n; i++) {
                int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        return NULL;
                ssize_t k = read(fd, v->got, sizeof(v->got) - 1);
                v->got[k > 0 ? k : 0] = 0;
                const char *a = v->answers[i];
                if (a && a[0])
                        fd_write_all(fd, a, strlen(a), -1);
                if (a && !a[0]) { /* silent: wait for the client to give up */
                        char c;
                        while (read(fd, &c, 1) > 0)
                                ;
                }
                close(fd);
        }
        return NULL;
}

static void run_vmm(const char *const *answers, size_t n, void (*client)(const char *path, Vmm *v))
{
        char dir[] = "/tmp/ember-test-vsock-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char path[128];
        snprintf(path, sizeof(path), "%s/v.sock", dir);
        Vmm v = {.answers = answers, .n = n};
        CHECK_EQ_INT(unix_listen(path, 8, &v.listen_fd), 0);
        pthread_t t;
        pthread_create(&t, NULL, vmm_serve, &v);
        client(path, &v);
        pthread_join(t, NULL);
        close(v.listen_fd);
        unlink(path);
        rmdir(dir);
}

static void client_ok(const char *path, Vmm *v)
{
        Err e = {0};
        int fd = -1;
        CHECK_EQ_INT(hybrid_dial_once(path, 52, now_ms() + 5000, &fd, &e), 0);
        CHECK_STR(v->got, "CONNECT 52\n");
        char buf[8] = {0};
        CHECK_EQ_INT(fd_read_exact(fd, buf, 5, now_ms() + 5000), 0);
        CHECK_STR(buf, "guest"); /* bytes after the OK line belong to the guest */
        close(fd);
}

static void client_fail(const char *path, Vmm *v)
{
        Err e = {0};
        int fd = -1;
        CHECK_EQ_INT(hybrid_dial_once(path, 52, now_ms() + 5000, &fd, &e), -ECONNRESET);
        CHECK(strstr(e.msg, "connection closed") != NULL);
        CHECK_EQ_INT(hybrid_dial_once(path, 52, now_ms() + 5000, &fd, &e), -EPROTO);
        CHECK_EQ_INT(hybrid_dial_once(path, 52, now_ms() + 5000, &fd, &e), -EPROTO); /* too long */
        CHECK_EQ_INT(hybrid_dial_once(path, 52, now_ms() + 100, &fd, &e), -ETIMEDOUT);
        CHECK_EQ_INT(fd, -1);
}

static void client_retry(const char *path, Vmm *v)
{
        Err e = {0};
        int fd = -1;
        CHECK_EQ_INT(hybrid_dial(path, 1024, now_ms() + 10000, -1, &fd, &e), 0);
        CHECK_STR(v->got, "CONNECT 1024\n");
        CHECK(fd >= 0);
        close(fd);
}

static void client_abort(const char *path, Vmm *v)
{
        Err e = {0};
        int fd = -1;
        int ev = eventfd(1, EFD_CLOEXEC); /* already readable: the VM is gone */
        CHECK_EQ_INT(hybrid_dial(path, 52, now_ms() + 10000, ev, &fd, &e), -EHOSTDOWN);
        close(ev);
}

static void test_hybrid(void)
{
        const char *ok[] = {"OK 1073741824\nguest"};
        run_vmm(ok, 1, client_ok);
        const char *bad[] = {NULL, "NOPE\n", "OK 123456789012345678901234567890\n", ""};
        run_vmm(bad, 4, client_fail);
        const char *retry[] = {NULL, NULL, "OK 1073741825\n"};
        run_vmm(retry, 3, client_retry);
        const char *silent[] = {""};
        run_vmm(silent, 1, client_abort);
        Err e = {0};
        int fd = -1;
        CHECK_EQ_INT(hybrid_dial_once("/nonexistent/v.sock", 52, now_ms() + 100, &fd, &e), -ENOENT);
}

/* ---- agent ---- */

typedef struct Agent {
        int fd;
        void (*script)(struct Agent *a);
        ProtoExec got; /* decoded EXEC */
        uint8_t *exec_payload;
        size_t stdin_bytes;
        bool got_eof, got_kill;
} Agent;

static void *agent_main(void *arg)
{
        Agent *a = arg;
        a->script(a);
        close(a->fd);
        return NULL;
}

/* Returns whether the agent received a KILL. */
static bool run_agent(void (*script)(Agent *a), void (*host)(int fd, Agent *a))
{
        int sv[2];
        CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        Agent a = {.fd = sv[1], .script = script};
        pthread_t t;
        pthread_create(&t, NULL, agent_main, &a);
        host(sv[0], &a);
        close(sv[0]);
        pthread_join(t, NULL);
        proto_exec_clear(&a.got);
        free(a.exec_payload);
        return a.got_kill;
}

static void put_frame(Agent *a, unsigned type, const void *p, size_t n)
{
        proto_write_frame(a->fd, type, p, n, -1);
}

static void send_exit(Agent *a, int code, uint32_t flags)
{
        ProtoExit x = {.exit_code = code, .flags = flags, .duration_us = 12345, .cpu_time_us = 2000,
                       .peak_rss_kib = 777};
        uint8_t raw[PROTO_EXIT_SIZE];
        proto_exit_pack(&x, raw);
        put_frame(a, PROTO_EXIT, raw, sizeof(raw));
}

static bool read_exec(Agent *a)
{
        ProtoFrame f;
        if (proto_read_frame(a->fd, &f, -1) < 0 || f.hdr.type != PROTO_EXEC)
                return false;
        a->exec_payload = f.payload;
        return proto_exec_decode(f.payload, f.hdr.len, &a->got) == 0;
}

/* Reads STDIN frames up to STDIN_EOF (or KILL). */
static void read_stdin(Agent *a)
{
        for (;;) {
                ProtoFrame f;
                if (proto_read_frame(a->fd, &f, -1) < 0)
                        return;
                unsigned t = f.hdr.type;
                a->stdin_bytes += t == PROTO_STDIN ? f.hdr.len : 0;
                proto_frame_free(&f);
                if (t == PROTO_KILL)
                        a->got_kill = true;
                if (t == PROTO_STDIN_EOF)
                        a->got_eof = true;
                if (t != PROTO_STDIN)
                        return;
        }
}

static void script_pong(Agent *a)
{
        ProtoFrame f;
        if (proto_read_frame(a->fd, &f, -1) < 0)
                return;
        proto_frame_free(&f);
        /* TLV: version 1, an unknown tag, uptime 99 */
        uint8_t p[] = {1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 77, 0, 0, 0, 1, 0, 0, 0, 'x',
                       2, 0, 0, 0, 4, 0, 0, 0, 99, 0, 0, 0};
        put_frame(a, PROTO_PONG, p, sizeof(p));
}

static void script_ping_wrong(Agent *a)
{
        ProtoFrame f;
        if (proto_read_frame(a->fd, &f, -1) < 0)
                return;
        proto_frame_free(&f);
        put_frame(a, PROTO_STDOUT, "x", 1);
}

static void host_ping(int fd, Agent *a)
{
        Err e = {0};
        AgentPong pong = {0};
        CHECK_EQ_INT(agent_ping(fd, now_ms() + 5000, &pong, &e), 0);
        CHECK_EQ_INT(pong.agent_version, 1);
        CHECK_EQ_INT(pong.uptime_ms, 99);
}

static void host_ping_wrong(int fd, Agent *a)
{
        Err e = {0};
        CHECK_EQ_INT(agent_ping(fd, now_ms() + 5000, NULL, &e), -EPROTO);
        CHECK(strncmp(e.msg, "agent protocol error: ", 22) == 0);
}

#define BIG_OUT (4u * 1024 * 1024)
#define BIG_IN (1024u * 1024 + 17)

/* Writes megabytes of output before it reads any stdin: a host that does not read while
 * it writes would deadlock here. */
static void script_chatty(Agent *a)
{
        if (!read_exec(a))
                return;
        static uint8_t chunk[PROTO_MAX_DATA];
        memset(chunk, 'o', sizeof(chunk));
        for (size_t sent = 0; sent < BIG_OUT; sent += sizeof(chunk))
                put_frame(a, PROTO_STDOUT, chunk, sizeof(chunk));
        put_frame(a, PROTO_STDERR, "warn\n", 5);
        read_stdin(a);
        send_exit(a, 3, 0);
}

static ProtoExec simple_exec(uint32_t timeout_ms, uint32_t cap)
{
        static const char *argv[] = {"cat", "-", NULL};
        static const char *env[] = {"A=1", NULL};
        return (ProtoExec){.argv = argv, .argc = 2, .env = env, .envc = 1, .cwd = "/tmp",
                           .timeout_ms = timeout_ms, .stdout_cap = cap, .stderr_cap = cap};
}

static void host_chatty(int fd, Agent *a)
{
        ProtoExec x = simple_exec(10000, 65536);
        uint8_t *in = malloc(BIG_IN);
        memset(in, 'i', BIG_IN);
        AgentExecIn req = {.exec = &x, .stdin_data = in, .stdin_len = BIG_IN, .abort_fd = -1};
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(agent_exec(fd, &req, &out, &e), 0);
        CHECK_EQ_INT(out.exit.exit_code, 3);
        CHECK_EQ_INT(out.out.len, 65536); /* the cap, not 4 MiB */
        CHECK_EQ_INT(out.out.dropped, BIG_OUT - 65536);
        CHECK(out.stdout_truncated);
        CHECK(!out.stderr_truncated);
        CHECK_EQ_INT(out.err.len, 5);
        CHECK_EQ_INT(out.exit.peak_rss_kib, 777);
        CHECK_EQ_INT(a->stdin_bytes, BIG_IN);
        CHECK(a->got_eof);
        CHECK_EQ_INT(a->got.argc, 2);
        CHECK_STR(a->got.argv[0], "cat");
        CHECK_STR(a->got.cwd, "/tmp");
        CHECK_EQ_INT(a->got.timeout_ms, 10000);
        CHECK_EQ_INT(a->got.stdout_cap, 65536);
        agent_exec_out_free(&out);
        free(in);
}

static void script_wrong_frame(Agent *a)
{
        if (read_exec(a))
                put_frame(a, PROTO_PONG, NULL, 0);
        read_stdin(a);
}
static void script_bad_exit(Agent *a)
{
        if (read_exec(a))
                put_frame(a, PROTO_EXIT, "\x01\x02", 2);
        read_stdin(a);
}
static void script_eof(Agent *a)
{
        if (read_exec(a))
                put_frame(a, PROTO_STDOUT, "partial", 7);
}
static void script_error(Agent *a)
{
        if (!read_exec(a))
                return;
        uint8_t p[64];
        uint32_t en = ENOENT;
        memcpy(p, &en, 4);
        memcpy(p + 4, "no such program: \x01" "cat", 21);
        put_frame(a, PROTO_ERROR, p, 25);
        read_stdin(a);
}
static void script_hang(Agent *a)
{
        if (read_exec(a))
                read_stdin(a); /* EOF */
        read_stdin(a);         /* then KILL */
}
static void script_truncated_by_guest(Agent *a)
{
        if (!read_exec(a))
                return;
        put_frame(a, PROTO_STDOUT, "abc", 3);
        send_exit(a, -1 + 1, EXIT_F_STDERR_TRUNC | EXIT_F_TIMED_OUT);
}

static int run_exec(int fd, uint32_t timeout_ms, int abort_fd, AgentExecOut *out, Err *e)
{
        ProtoExec x = simple_exec(timeout_ms, 1024);
        AgentExecIn req = {.exec = &x, .stdin_data = (const uint8_t *)"hi", .stdin_len = 2,
                           .abort_fd = abort_fd};
        return agent_exec(fd, &req, out, e);
}

static void host_wrong_frame(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1000, -1, &out, &e), -EPROTO);
        CHECK_STR(e.msg, "agent protocol error: unexpected pong frame during exec");
}
static void host_bad_exit(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1000, -1, &out, &e), -EPROTO);
        CHECK_STR(e.msg, "agent protocol error: malformed exit record");
}
static void host_eof(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1000, -1, &out, &e), -EPROTO);
        CHECK_STR(e.msg, "agent protocol error: connection closed before the exit record");
}
static void host_error(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1000, -1, &out, &e), -ENOENT);
        CHECK_STR(e.msg, "agent: no such program: ?cat");
}
static void host_timeout(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1, -1, &out, &e), -ETIMEDOUT);
        CHECK_STR(e.msg, "agent did not answer within 5001 ms");
}
static void host_abort(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        int ev = eventfd(1, EFD_CLOEXEC);
        CHECK_EQ_INT(run_exec(fd, 60000, ev, &out, &e), -EHOSTDOWN);
        close(ev);
}
static void host_truncated_by_guest(int fd, Agent *a)
{
        AgentExecOut out;
        Err e = {0};
        CHECK_EQ_INT(run_exec(fd, 1000, -1, &out, &e), 0);
        CHECK(!out.stdout_truncated);
        CHECK(out.stderr_truncated);
        CHECK(out.exit.flags & EXIT_F_TIMED_OUT);
        CHECK_EQ_INT(out.out.len, 3);
        agent_exec_out_free(&out);
}

static void test_agent(void)
{
        run_agent(script_pong, host_ping);
        run_agent(script_ping_wrong, host_ping_wrong);
        run_agent(script_chatty, host_chatty);
        run_agent(script_wrong_frame, host_wrong_frame);
        run_agent(script_bad_exit, host_bad_exit);
        run_agent(script_eof, host_eof);
        run_agent(script_error, host_error);
        run_agent(script_truncated_by_guest, host_truncated_by_guest);
        CHECK(!run_agent(script_hang, host_abort));
        CHECK(run_agent(script_hang, host_timeout)); /* past the deadline the host sends KILL */
}

TEST_MAIN({
        test_hybrid();
        test_agent();
})
