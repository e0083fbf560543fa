/* fuzz-agent-frames.c — the host side of the agent protocol against a hostile guest: what
 * the guest sends goes to the real agent client (agent_exec, agent_ping) through a
 * socketpair and to an independent model of what the client must conclude; both must agree.
 * Must never wait: the guest's side is shut for writing after the input. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "proto/proto.h"
#include "shared/util.h"
#include "vsock/agent.h"

/* Checks: client and model agree on success, output bytes, EXIT record, truncation flags
 * and PONG; a failure carries an errno and only printable text (guest bytes end up in logs
 * and JSON). The model reads the stream with the pure codecs (proto_hdr_parse,
 * proto_exit_unpack, proto_error_unpack).
 * Input: byte 0 = mode (bit 0: ping instead of exec; bits 1-3: stdout cap / 512; bits 4-6:
 * stderr cap / 512; bit 7: the exec sends 100 KiB of stdin), then the guest's byte stream. */

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

/* What the exec client must make of the guest's stream, written out independently of
 * src/vsock/agent.c: frames in order up to an EXIT; output appended up to the caps; any
 * other end (bad header, a type other than output/EXIT/ERROR, a cut frame, a bad EXIT
 * record, an ERROR, the end of the stream) is a failure. Uses the pure codecs on the way. */
typedef struct Model {
        bool ok;
        Buf out, err;
        ProtoExit exit;
} Model;

static bool exec_type(unsigned t)
{
        return t == PROTO_STDOUT || t == PROTO_STDERR || t == PROTO_EXIT || t == PROTO_ERROR;
}

/* The next whole frame of an allowed type (NULL: any) and a copy of its payload. */
static bool model_frame(const uint8_t **p, size_t *len, bool (*allowed)(unsigned type),
                        ProtoHdr *h, uint8_t **ret_pay)
{
        if (*len < PROTO_HDR_SIZE || proto_hdr_parse(*p, h) < 0)
                return false;
        FUZZ_CHECK(h->len <= proto_max_payload(h->type), "%s frame of %u bytes accepted",
                   proto_type_name(h->type), h->len);
        if ((allowed && !allowed(h->type)) || h->len > *len - PROTO_HDR_SIZE)
                return false;
        *p += PROTO_HDR_SIZE;
        *len -= PROTO_HDR_SIZE;
        /* an exact-size copy: reading past the payload is an ASan finding */
        *ret_pay = malloc(h->len ? h->len : 1);
        FUZZ_CHECK(*ret_pay, "out of memory");
        memcpy(*ret_pay, *p, h->len);
        *p += h->len;
        *len -= h->len;
        return true;
}

static void model_exec(const uint8_t *p, size_t len, Model *m)
{
        for (;;) {
                ProtoHdr h;
                _cleanup_free_ uint8_t *pay = NULL;
                if (!model_frame(&p, &len, exec_type, &h, &pay))
                        return;
                if (h.type == PROTO_STDOUT || h.type == PROTO_STDERR) {
                        FUZZ_CHECK(buf_append(h.type == PROTO_STDOUT ? &m->out : &m->err, pay,
                                              h.len) == 0, "out of memory");
                        continue;
                }
                uint32_t errnum;
                const char *msg;
                size_t msg_len;
                if (h.type == PROTO_ERROR) {
                        if (proto_error_unpack(pay, h.len, &errnum, &msg, &msg_len) == 0)
                                FUZZ_CHECK(msg == (const char *)pay + 4 && msg_len == h.len - 4,
                                           "error message outside its frame");
                        return;
                }
                if (proto_exit_unpack(pay, h.len, &m->exit) == 0) {
                        check_exit(&m->exit);
                        m->ok = true;
                }
                return;
        }
}

/* The PONG of a ping: one frame; its TLV entries whole; known tags of 4 bytes taken. */
static bool model_ping(const uint8_t *p, size_t len, AgentPong *ret)
{
        ProtoHdr h;
        _cleanup_free_ uint8_t *pay = NULL;
        if (!model_frame(&p, &len, NULL, &h, &pay) || h.type != PROTO_PONG)
                return false;
        *ret = (AgentPong){0};
        FuzzIn in = {pay, h.len};
        while (in.len > 0) {
                if (in.len < 8)
                        return false;
                uint16_t tag = fuzz_u16(&in);
                (void)fuzz_u16(&in);
                uint32_t n = fuzz_u32(&in);
                if (n > in.len)
                        return false;
                const uint8_t *v;
                fuzz_take(&in, n, &v);
                FuzzIn val = {v, n};
                if (n == 4 && tag == PONG_TAG_AGENT_VERSION)
                        ret->agent_version = fuzz_u32(&val);
                if (n == 4 && tag == PONG_TAG_UPTIME_MS)
                        ret->uptime_ms = fuzz_u32(&val);
        }
        return true;
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

/* The guest's end of a socketpair, already holding the stream (*len is cut to what the
 * socket took) and shut for writing. */
static int guest_feed(const uint8_t *p, size_t *len, int *ret_host)
{
        int sv[2];
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %m");
        FUZZ_CHECK(fd_nonblock(sv[1], true) == 0, "nonblock");
        size_t sent = 0;
        while (sent < *len) {
                ssize_t n = send(sv[1], p + sent, *len - sent, MSG_NOSIGNAL);
                if (n <= 0)
                        break; /* the buffer is full: the rest of the input is not sent */
                sent += (size_t)n;
        }
        *len = sent;
        shutdown(sv[1], SHUT_WR);
        *ret_host = sv[0];
        return sv[1];
}

static bool same_buf(const Buf *a, const Buf *b)
{
        return a->len == b->len && a->dropped == b->dropped &&
               (!a->len || !memcmp(a->data, b->data, a->len));
}

static bool same_exit(const ProtoExit *a, const ProtoExit *b)
{
        return a->exit_code == b->exit_code && a->signal == b->signal && a->flags == b->flags &&
               a->duration_us == b->duration_us && a->cpu_time_us == b->cpu_time_us &&
               a->peak_rss_kib == b->peak_rss_kib && a->stdout_bytes == b->stdout_bytes &&
               a->stderr_bytes == b->stderr_bytes;
}

static void run_exec(uint8_t mode, const uint8_t *p, size_t len)
{
        int host;
        _cleanup_close_ _unused_ int guest = guest_feed(p, &len, &host);
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
        Model m = {0};
        buf_init(&m.out, x.stdout_cap);
        buf_init(&m.err, x.stderr_cap);
        model_exec(p, len, &m);
        FUZZ_CHECK(m.ok == (r == 0), "the client says %d, the stream says %s", r,
                   m.ok ? "success" : "failure");
        if (r < 0) {
                check_error(r, &e);
        } else {
                FUZZ_CHECK(same_buf(&out.out, &m.out) && same_buf(&out.err, &m.err),
                           "output differs from the frames: %zu/%zu %zu/%zu bytes", out.out.len,
                           m.out.len, out.err.len, m.err.len);
                FUZZ_CHECK(same_exit(&out.exit, &m.exit), "exit record differs");
                FUZZ_CHECK(out.stdout_truncated ==
                                   (m.out.dropped > 0 || (m.exit.flags & EXIT_F_STDOUT_TRUNC)) &&
                           out.stderr_truncated ==
                                   (m.err.dropped > 0 || (m.exit.flags & EXIT_F_STDERR_TRUNC)),
                           "truncation flags");
        }
        agent_exec_out_free(&out);
        buf_free(&m.out);
        buf_free(&m.err);
}

static void run_ping(const uint8_t *p, size_t len)
{
        int host;
        _cleanup_close_ _unused_ int guest = guest_feed(p, &len, &host);
        _cleanup_close_ int host_fd = host;
        AgentPong pong = {0}, want = {0};
        Err e = {0};
        int r = agent_ping(host_fd, now_ms() + 1000, &pong, &e);
        bool ok = model_ping(p, len, &want);
        FUZZ_CHECK(ok == (r == 0), "the client says %d, the stream says %s", r,
                   ok ? "success" : "failure");
        if (r < 0)
                check_error(r, &e);
        else
                FUZZ_CHECK(pong.agent_version == want.agent_version &&
                                   pong.uptime_ms == want.uptime_ms,
                           "pong %u/%u, the frame says %u/%u", pong.agent_version,
                           pong.uptime_ms, want.agent_version, want.uptime_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t fds = fuzz_fd_snapshot();
        FuzzIn in = {data, size};
        uint8_t mode = fuzz_u8(&in);
        if (mode & 1)
                run_ping(in.p, in.len);
        else
                run_exec(mode, in.p, in.len);
        fuzz_fd_check(fds);
        return 0;
}
