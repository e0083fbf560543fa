/* hybrid.c — the CONNECT/OK handshake and its retry loop (see hybrid.h).
 * The command goes out in ONE write (Firecracker drops a command that arrives in pieces);
 * the answer is read byte by byte so no guest byte after the LF is consumed. */
#include "hybrid.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../shared/util.h"

/* 1 = abort_fd readable, 0 = timeout reached, -errno. Waits on fd (POLLIN) too when fd >= 0. */
static int wait_either(int fd, int abort_fd, int64_t deadline_ms)
{
        for (;;) {
                struct pollfd p[2] = {{.fd = abort_fd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
                int r = poll(p, 2, deadline_left(deadline_ms));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (p[0].revents)
                        return 1;
                return r > 0 ? 2 : 0;
        }
}

static bool parse_ack(const char *line, size_t n)
{
        /* "OK <decimal>\n" */
        if (n < 5 || memcmp(line, "OK ", 3) != 0 || line[n - 1] != '\n')
                return false;
        for (size_t i = 3; i < n - 1; i++)
                if (line[i] < '0' || line[i] > '9')
                        return false;
        return true;
}

static int read_ack(int fd, int64_t deadline_ms, int abort_fd, Err *e)
{
        char line[HYBRID_ACK_MAX + 1];
        size_t n = 0;
        while (n < HYBRID_ACK_MAX) {
                int r = wait_either(fd, abort_fd, deadline_ms);
                if (r < 0)
                        return err_set(e, -r, "vsock handshake: %s", strerror(-r));
                if (r == 1)
                        return err_set(e, EHOSTDOWN, "vsock handshake: the VM is gone");
                if (r == 0)
                        return err_set(e, ETIMEDOUT, "vsock handshake: no answer to CONNECT");
                ssize_t k = recv(fd, line + n, 1, 0);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0 && errno != ECONNRESET)
                        return err_set(e, errno, "vsock handshake: %s", strerror(errno));
                if (k <= 0) /* FACTS §2.1: refused connections are closed without a word */
                        return err_set(e, ECONNRESET, "vsock handshake: connection closed "
                                                      "(nothing listening on the guest port?)");
                if (line[n++] == '\n')
                        break;
        }
        line[n] = 0;
        if (!parse_ack(line, n))
                return err_set(e, EPROTO, "vsock handshake: unexpected answer to CONNECT");
        return 0;
}

static int dial(const char *uds_path, unsigned port, int64_t deadline_ms, int abort_fd,
                int *ret_fd, Err *e)
{
        _cleanup_close_ int fd = -1;
        int r = unix_connect(uds_path, &fd);
        if (r < 0)
                return err_set(e, -r, "vsock: cannot connect to %s: %s", uds_path, strerror(-r));
        char cmd[32];
        int len = snprintf(cmd, sizeof(cmd), "CONNECT %u\n", port);
        ssize_t w;
        do
                w = send(fd, cmd, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w != len) /* a fresh Unix socket takes 16 bytes whole or not at all */
                return err_set(e, w < 0 ? errno : EIO, "vsock: cannot send CONNECT");
        r = read_ack(fd, deadline_ms, abort_fd, e);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int hybrid_dial_once(const char *uds_path, unsigned port, int64_t deadline_ms, int *ret_fd, Err *e)
{
        return dial(uds_path, port, deadline_ms, -1, ret_fd, e);
}

int hybrid_dial(const char *uds_path, unsigned port, int64_t deadline_ms, int abort_fd,
                int *ret_fd, Err *e)
{
        int backoff = HYBRID_BACKOFF_MIN_MS;
        for (;;) {
                int64_t attempt_deadline = MIN(deadline_ms, now_ms() + HYBRID_ATTEMPT_MS);
                int r = dial(uds_path, port, attempt_deadline, abort_fd, ret_fd, e);
                if (r >= 0 || r == -EHOSTDOWN)
                        return r;
                if (deadline_left(deadline_ms) == 0)
                        return r; /* the last attempt's reason is the useful one */
                int w = wait_either(-1, abort_fd, MIN(deadline_ms, now_ms() + backoff));
                if (w == 1)
                        return err_set(e, EHOSTDOWN, "vsock: the VM is gone");
                backoff = MIN(backoff * 2, HYBRID_BACKOFF_MAX_MS);
        }
}
