/* fuzz-agent-frames.c — the host side of the agent protocol against a hostile guest: the
 * input is what the guest sends. It is decoded frame by frame with the pure codecs
 * (proto_hdr_parse, proto_exit_unpack, proto_error_unpack), then fed through a socketpair
 * to the real agent client (agent_exec's poll loop, or agent_ping), whose result is checked:
 * output within the caps, an EXIT record in range, an error that carries an errno and only
 * printable text. The peer's write side is shut after the input, so nothing ever waits.
 *
 * Input: byte 0 = mode (bit 0: ping instead of exec; bits 1-3: stdout cap / 512; bits 4-6:
 * stderr cap / 512; bit 7: the exec sends 100 KiB of stdin), then the guest's byte stream. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "proto/proto.h"
#include "shared/util.h"
#include "vsock/agent.h"

#define STDIN_BYTES (100u * 1024)

static uint8_t stdin_data[STDIN_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        memset(stdin_data, 'i', sizeof(stdin_data));
        return 0;
}

static void check_exit(const ProtoExit *x)
{
        FUZZ_CHECK(x->signal >= 0 && x->signal <= 64, "signal %d accepted", x->signal);
        FUZZ_CHECK(x->exit_code >= -1 && x->exit_code <= 255, "exit code %d accepted",
                   x->exit_code);
        FUZZ_CHECK((x->signal != 0) == (x->exit_code == -1), "exit %d with signal %d accepted",
                   x->exit_code, x->signal);
}

/* The pure codecs over the stream, as the host would meet it frame after frame. */
static void decode_stream(const uint8_t *p, size_t len)
{
        while (len >= PROTO_HDR_SIZE) {
                ProtoHdr h;
                if (proto_hdr_parse(p, &h) < 0)
                        return;
                FUZZ_CHECK(h.len <= proto_max_payload(h.type), "%s frame of %u bytes accepted",
                           proto_type_name(h.type), h.len);
                p += PROTO_HDR_SIZE;
                len -= PROTO_HDR_SIZE;
                if (h.len > len)
                        return;
                /* an exact-size copy: reading past the payload is an ASan finding */
                _cleanup_free_ uint8_t *pay = malloc(h.len ? h.len : 1);
                FUZZ_CHECK(pay, "out of memory");
                memcpy(pay, p, h.len);
                ProtoExit x;
                uint32_t errnum;
                const char *msg;
                size_t msg_len;
                if (h.type == PROTO_EXIT && proto_exit_unpack(pay, h.len, &x) == 0)
                        check_exit(&x);
                if (h.type == PROTO_ERROR &&
                    proto_error_unpack(pay, h.len, &errnum, &msg, &msg_len) == 0)
                        FUZZ_CHECK(msg == (const char *)pay + 4 && msg_len == h.len - 4,
                                   "error message outside its frame");
                p += h.len;
                len -= h.len;
        }
}

/* A client error must name an errno and carry no guest control bytes into logs or JSON. */
static void check_error(int r, const Err *e)
{
        FUZZ_CHECK(r < 0 && e->errnum > 0 && r == -e->errnum, "r=%d errnum=%d", r, e->errnum);
        FUZZ_CHECK(memchr(e->msg, 0, sizeof(e->msg)), "message not terminated");
        for (const char *c = e->msg; *c; c++)
                FUZZ_CHECK(*c >= 0x20 && *c < 0x7f, "byte 0x%02x in the error message",
                           (unsigned)(uint8_t)*c);
}

/* The guest's end of a socketpair, already holding the stream and shut for writing. */
static int guest_feed(const uint8_t *p, size_t len, int *ret_host)
{
        int sv[2];
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %m");
        FUZZ_CHECK(fd_nonblock(sv[1], true) == 0, "nonblock");
        while (len > 0) {
                ssize_t n = send(sv[1], p, len, MSG_NOSIGNAL);
                if (n <= 0)
                        break; /* the buffer is full: the rest of the input is not sent */
                p += n;
                len -= (size_t)n;
        }
        shutdown(sv[1], SHUT_WR);
        *ret_host = sv[0];
        return sv[1];
}

static void run_exec(uint8_t mode, const uint8_t *p, size_t len)
{
        int host;
        _cleanup_close_ _unused_ int guest = guest_feed(p, len, &host);
        _cleanup_close_ int host_fd = host;
        const char *argv[] = {"true", NULL};
        ProtoExec x = {.argv = argv, .argc = 1, .timeout_ms = 1000,
                       .stdout_cap = ((mode >> 1) & 7) * 512u,
                       .stderr_cap = ((mode >> 4) & 7) * 512u};
        AgentExecIn in = {.exec = &x, .stdin_data = stdin_data,
                          .stdin_len = (mode & 0x80) ? STDIN_BYTES : 0, .abort_fd = -1};
        AgentExecOut out = {0};
        Err e = {0};
        int r = agent_exec(host_fd, &in, &out, &e);
        if (r < 0) {
                check_error(r, &e);
                return;
        }
        FUZZ_CHECK(out.out.len <= x.stdout_cap && out.err.len <= x.stderr_cap,
                   "output over its cap: %zu/%u %zu/%u", out.out.len, x.stdout_cap, out.err.len,
                   x.stderr_cap);
        FUZZ_CHECK(!out.out.dropped || out.stdout_truncated, "dropped stdout not flagged");
        FUZZ_CHECK(!out.err.dropped || out.stderr_truncated, "dropped stderr not flagged");
        check_exit(&out.exit);
        agent_exec_out_free(&out);
}

static void run_ping(const uint8_t *p, size_t len)
{
        int host;
        _cleanup_close_ _unused_ int guest = guest_feed(p, len, &host);
        _cleanup_close_ int host_fd = host;
        AgentPong pong;
        Err e = {0};
        int r = agent_ping(host_fd, now_ms() + 1000, &pong, &e);
        if (r < 0)
                check_error(r, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t fds = fuzz_fd_snapshot();
        FuzzIn in = {data, size};
        uint8_t mode = fuzz_u8(&in);
        decode_stream(in.p, in.len);
        if (mode & 1)
                run_ping(in.p, in.len);
        else
                run_exec(mode, in.p, in.len);
        fuzz_fd_check(fds);
        return 0;
}
