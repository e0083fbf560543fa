/* test-proto.c — agent protocol framing and codecs, including hostile inputs. */
#include <errno.h>
#include <sys/socket.h>

#include "proto/proto.h"
#include "shared/util.h"
#include "test.h"

static void test_header(void)
{
        uint8_t raw[PROTO_HDR_SIZE];
        ProtoHdr h;
        proto_hdr_pack(raw, PROTO_STDOUT, 100);
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), 0);
        CHECK_EQ_INT(h.type, PROTO_STDOUT);
        CHECK_EQ_INT(h.len, 100);

        proto_hdr_pack(raw, PROTO_STDOUT, PROTO_MAX_DATA + 1);
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EMSGSIZE);
        proto_hdr_pack(raw, PROTO_PING, 1); /* ping carries nothing */
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EMSGSIZE);
        proto_hdr_pack(raw, 0, 0);
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EBADMSG);
        proto_hdr_pack(raw, 200, 0);
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EBADMSG);
        proto_hdr_pack(raw, PROTO_EXIT, 10);
        raw[0] = 2;
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EPROTONOSUPPORT);
        proto_hdr_pack(raw, PROTO_EXIT, 10);
        raw[2] = 1;
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EBADMSG);
        proto_hdr_pack(raw, PROTO_EXIT, 0xffffffffu);
        CHECK_EQ_INT(proto_hdr_parse(raw, &h), -EMSGSIZE);
}

static void test_exec_roundtrip(void)
{
        const char *argv[] = {"python3", "-c", "print(1)"};
        const char *env[] = {"A=1", "B=two"};
        ProtoExec x = {.argv = argv, .argc = 3, .env = env, .envc = 2, .cwd = "/tmp",
                       .timeout_ms = 1234, .stdout_cap = 10, .stderr_cap = 20,
                       .code = (const uint8_t *)"x=1\n", .code_len = 4, .code_name = "main.py",
                       .memory_limit_mib = 64, .pids_limit = 32};
        uint8_t *buf;
        size_t len;
        CHECK_EQ_INT(proto_exec_encode(&x, &buf, &len), 0);
        ProtoExec d;
        CHECK_EQ_INT(proto_exec_decode(buf, len, &d), 0);
        CHECK_EQ_INT(d.argc, 3);
        CHECK_STR(d.argv[2], "print(1)");
        CHECK(d.argv[3] == NULL);
        CHECK_EQ_INT(d.envc, 2);
        CHECK_STR(d.env[1], "B=two");
        CHECK_STR(d.cwd, "/tmp");
        CHECK_EQ_INT(d.timeout_ms, 1234);
        CHECK_EQ_INT(d.stderr_cap, 20);
        CHECK_EQ_INT(d.code_len, 4);
        CHECK_STR(d.code_name, "main.py");
        CHECK_EQ_INT(d.memory_limit_mib, 64);
        CHECK_EQ_INT(d.pids_limit, 32);
        proto_exec_clear(&d);

        /* every truncation of a valid record is refused or decodes to a consistent subset */
        for (size_t cut = 0; cut < len; cut++) {
                int r = proto_exec_decode(buf, cut, &d);
                CHECK(r == -EBADMSG || r == 0);
                if (r == 0)
                        proto_exec_clear(&d);
        }
        /* a flipped byte anywhere never crashes */
        for (size_t i = 0; i < len; i++) {
                buf[i] ^= 0xff;
                if (proto_exec_decode(buf, len, &d) == 0)
                        proto_exec_clear(&d);
                buf[i] ^= 0xff;
        }
        free(buf);
}

static void test_exec_limits(void)
{
        /* limits are sent only when set: an exec without them encodes as before */
        const char *argv[] = {"true"};
        ProtoExec x = {.argv = argv, .argc = 1};
        uint8_t *plain, *limited;
        size_t plain_len, limited_len;
        CHECK_EQ_INT(proto_exec_encode(&x, &plain, &plain_len), 0);
        x.pids_limit = 7;
        CHECK_EQ_INT(proto_exec_encode(&x, &limited, &limited_len), 0);
        CHECK_EQ_INT(limited_len, plain_len + 12);
        ProtoExec d;
        CHECK_EQ_INT(proto_exec_decode(plain, plain_len, &d), 0);
        CHECK_EQ_INT(d.memory_limit_mib, 0);
        CHECK_EQ_INT(d.pids_limit, 0);
        proto_exec_clear(&d);
        CHECK_EQ_INT(proto_exec_decode(limited, limited_len, &d), 0);
        CHECK_EQ_INT(d.pids_limit, 7);
        CHECK_EQ_INT(d.memory_limit_mib, 0);
        proto_exec_clear(&d);
        free(plain);
        free(limited);

        /* duplicated or mis-sized limit tags are refused */
        uint8_t dup[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 10, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0,
                         10, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0};
        CHECK_EQ_INT(proto_exec_decode(dup, sizeof(dup), &d), -EBADMSG);
        uint8_t shortv[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 9, 0, 0, 0, 2, 0, 0, 0, 1, 0};
        CHECK_EQ_INT(proto_exec_decode(shortv, sizeof(shortv), &d), -EBADMSG);
}

static void test_exec_hostile(void)
{
        /* string without NUL, embedded NUL, duplicate scalar, unknown tag, bad env, code name */
        uint8_t a[] = {1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
        ProtoExec d;
        CHECK_EQ_INT(proto_exec_decode(a, sizeof(a), &d), -EBADMSG);
        uint8_t b[] = {1, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 0};
        CHECK_EQ_INT(proto_exec_decode(b, sizeof(b), &d), -EBADMSG);
        uint8_t c[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0,
                       4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0};
        CHECK_EQ_INT(proto_exec_decode(c, sizeof(c), &d), -EBADMSG);
        uint8_t u[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 99, 0, 0, 0, 0, 0, 0, 0};
        CHECK_EQ_INT(proto_exec_decode(u, sizeof(u), &d), -EBADMSG);
        uint8_t e[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 2, 0, 0, 0, 3, 0, 0, 0, '=', 'x', 0};
        CHECK_EQ_INT(proto_exec_decode(e, sizeof(e), &d), -EBADMSG);
        uint8_t n[] = {7, 0, 0, 0, 1, 0, 0, 0, 'x', 8, 0, 0, 0, 6, 0, 0, 0, '.', '.', '/', 'e', 't', 0};
        CHECK_EQ_INT(proto_exec_decode(n, sizeof(n), &d), -EBADMSG);
        uint8_t len_over[] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 'a', 0};
        CHECK_EQ_INT(proto_exec_decode(len_over, sizeof(len_over), &d), -EBADMSG);
        CHECK_EQ_INT(proto_exec_decode(a, 0, &d), -EBADMSG); /* neither argv nor code */

        const char *argv[] = {"x"};
        ProtoExec big = {.argv = argv, .argc = 1, .code = (const uint8_t *)"", .code_len = PROTO_MAX_CODE + 1};
        uint8_t *buf;
        size_t len;
        CHECK_EQ_INT(proto_exec_encode(&big, &buf, &len), -E2BIG);
}

static void test_exit(void)
{
        ProtoExit x = {.exit_code = 3, .flags = EXIT_F_STDOUT_TRUNC, .duration_us = 99,
                       .stdout_bytes = 1ull << 40};
        uint8_t raw[PROTO_EXIT_SIZE];
        proto_exit_pack(&x, raw);
        ProtoExit y;
        CHECK_EQ_INT(proto_exit_unpack(raw, sizeof(raw), &y), 0);
        CHECK_EQ_INT(y.exit_code, 3);
        CHECK_EQ_INT(y.stdout_bytes, 1ull << 40);
        CHECK_EQ_INT(proto_exit_unpack(raw, sizeof(raw) - 1, &y), -EBADMSG);
        x.exit_code = -1;
        x.signal = 0; /* inconsistent: neither exited nor signalled */
        proto_exit_pack(&x, raw);
        CHECK_EQ_INT(proto_exit_unpack(raw, sizeof(raw), &y), -EBADMSG);
        x.exit_code = 300;
        proto_exit_pack(&x, raw);
        CHECK_EQ_INT(proto_exit_unpack(raw, sizeof(raw), &y), -EBADMSG);
}

static const char *status_of(uint32_t flags, int exit_code, int sig)
{
        ProtoExit x = {.exit_code = exit_code, .signal = sig, .flags = flags};
        return proto_exec_status_name(proto_exit_status(&x));
}

static void test_status(void)
{
        CHECK_STR(status_of(0, 0, 0), "ok");
        CHECK_STR(status_of(EXIT_F_LIMITS_ENFORCED, 0, 0), "ok");
        CHECK_STR(status_of(0, 3, 0), "exit_nonzero");
        CHECK_STR(status_of(0, -1, 9), "signal");
        CHECK_STR(status_of(EXIT_F_STDOUT_TRUNC, 0, 0), "output_limit");
        CHECK_STR(status_of(EXIT_F_STDERR_TRUNC, -1, 11), "output_limit");
        CHECK_STR(status_of(EXIT_F_PIDS_LIMIT | EXIT_F_STDOUT_TRUNC, 1, 0), "pids_limit");
        CHECK_STR(status_of(EXIT_F_OOM | EXIT_F_PIDS_LIMIT | EXIT_F_STDERR_TRUNC, -1, 9), "oom");
        CHECK_STR(status_of(EXIT_F_TIMED_OUT | EXIT_F_OOM | EXIT_F_PIDS_LIMIT, -1, 9), "timeout");
        CHECK_STR(status_of(EXIT_F_TIMED_OUT, 0, 0), "timeout");
        CHECK_STR(proto_exec_status_name(_EXEC_STATUS_MAX), "unknown");
        for (unsigned s = 0; s < _EXEC_STATUS_MAX; s++) /* every status has a name */
                CHECK(strcmp(proto_exec_status_name((ExecStatus)s), "unknown") != 0);
}

static void test_io(void)
{
        int sv[2];
        CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        CHECK_EQ_INT(proto_write_frame(sv[0], PROTO_STDOUT, "hello", 5, -1), 0);
        ProtoFrame f;
        CHECK_EQ_INT(proto_read_frame(sv[1], &f, now_ms() + 1000), 0);
        CHECK_EQ_INT(f.hdr.len, 5);
        CHECK_STR((char *)f.payload, "hello");
        proto_frame_free(&f);
        /* nothing more: the deadline fires */
        CHECK_EQ_INT(proto_read_frame(sv[1], &f, now_ms() + 20), -ETIMEDOUT);
        /* a header announcing more than arrives, then EOF */
        uint8_t raw[PROTO_HDR_SIZE];
        proto_hdr_pack(raw, PROTO_STDERR, 100);
        CHECK_EQ_INT(fd_write_all(sv[0], raw, sizeof(raw), -1), 0);
        close(sv[0]);
        CHECK_EQ_INT(proto_read_frame(sv[1], &f, now_ms() + 1000), -EBADMSG);
        CHECK_EQ_INT(proto_read_frame(sv[1], &f, now_ms() + 1000), -EPIPE);
        close(sv[1]);
        CHECK_EQ_INT(proto_write_frame(0, PROTO_PING, "x", 1, -1), -EMSGSIZE);
}

TEST_MAIN({
        test_header();
        test_exec_roundtrip();
        test_exec_limits();
        test_exec_hostile();
        test_exit();
        test_status();
        test_io();
})
