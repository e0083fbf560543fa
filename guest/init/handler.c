/* handler.c — one agent connection, in its own process forked by PID 1: the first frame
 * decides (PING -> PONG and close, EXEC -> run it, anything else -> close). A host that says
 * nothing is dropped after AGENT_FIRST_FRAME_MS. Never blocks without a deadline. */
#include "agent.h"

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/util.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "dev"
#endif

static size_t tlv_put(uint8_t *out, uint16_t tag, const void *v, uint32_t n)
{
        uint16_t t = htole16(tag);
        uint32_t l = htole32(n);
        memcpy(out, &t, 2);
        memset(out + 2, 0, 2);
        memcpy(out + 4, &l, 4);
        memcpy(out + 8, v, n);
        return 8 + n;
}

static int handle_ping(int conn, int sfd, const ProtoFrame *f, const AgentConfig *cfg)
{
        /* PONG: TLV as in EXEC: strings carry their NUL, integers are u32 LE */
        static const char version[] = "emberd-init " EMBER_VERSION;
        uint8_t out[64];
        int64_t up = now_ms() - cfg->start_ms;
        uint32_t up_le = htole32((uint32_t)MIN(MAX(up, (int64_t)0), (int64_t)UINT32_MAX));
        size_t n = tlv_put(out, PONG_TAG_AGENT_VERSION, version, sizeof(version));
        n += tlv_put(out + n, PONG_TAG_UPTIME_MS, &up_le, 4);
        return proto_write_frame(conn, PROTO_PONG, out, n, now_ms() + AGENT_FLUSH_MS);
}

/* Closing a stream socket with unread input resets it (AF_UNIX: ECONNRESET at the peer;
 * relays then drop what was still in flight, our EXIT included). So after the last frame:
 * half-close, and discard what the host still sends (stdin the program never read) until
 * it closes, for at most AGENT_FLUSH_MS. */
static void linger(int conn)
{
        uint8_t scratch[4096];
        int64_t deadline = now_ms() + AGENT_FLUSH_MS;
        (void)shutdown(conn, SHUT_WR);
        while (fd_wait_readable(conn, deadline) > 0) {
                ssize_t n = recv(conn, scratch, sizeof(scratch), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return;
        }
}

static int handle_exec(int conn, int sfd, const ProtoFrame *f, const AgentConfig *cfg)
{
        int r = exec_run(conn, sfd, f->payload, f->hdr.len, cfg);
        linger(conn);
        return r;
}

static const struct {
        unsigned type;
        int (*handle)(int conn, int sfd, const ProtoFrame *f, const AgentConfig *cfg);
} first_frames[] = {
        {PROTO_PING, handle_ping},
        {PROTO_EXEC, handle_exec},
};

void handler_send_error(int conn, int errnum, const char *msg)
{
        uint8_t out[256];
        uint32_t le = htole32((uint32_t)errnum);
        size_t n = MIN(strlen(msg), sizeof(out) - 4);
        memcpy(out, &le, 4);
        memcpy(out + 4, msg, n);
        (void)proto_write_frame(conn, PROTO_ERROR, out, 4 + n, now_ms() + AGENT_FLUSH_MS);
}

/* Stop when PID 1 goes away (a test's agent killed): the exec loop sees SIGTERM. */
static int handler_signals(pid_t parent)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (parent != 1) {
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        (void)raise(SIGTERM);
        }
        return sfd;
}

int handler_main(int conn_fd, const AgentConfig *cfg)
{
        _cleanup_close_ int conn = conn_fd;
        _cleanup_close_ int sfd = handler_signals(getppid());
        if (sfd < 0)
                return 1;
        ProtoFrame f;
        int r = proto_read_frame(conn, &f, now_ms() + AGENT_FIRST_FRAME_MS);
        if (r < 0) {
                if (r != -EPIPE)
                        log_debug("agent: first frame: %s", strerror(-r));
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(first_frames); i++)
                if (f.hdr.type == first_frames[i].type) {
                        r = first_frames[i].handle(conn, sfd, &f, cfg);
                        proto_frame_free(&f);
                        return r < 0 ? 1 : 0;
                }
        log_debug("agent: unexpected first frame %s", proto_type_name(f.hdr.type));
        proto_frame_free(&f);
        return 0;
}
