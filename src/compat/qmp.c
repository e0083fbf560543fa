/* qmp.c — see qmp.h. Lines are "\r\n"-terminated JSON objects: a greeting {"QMP": ...},
 * replies {"return": ...} or {"error": {"class", "desc"}}, and events {"event": ...}. */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's own */

int qmp_init(Qmp *q, int fd)
{
        q->fd = fd;
        q->len = 0;
        return fd_nonblock(fd, true);
}

QmpMsg qmp_classify(const char *line, json_t **ret_root)
{
        json_t *root = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        QmpMsg k = QMP_MSG_BAD;
        if (json_is_object(root)) {
                if (json_object_get(root, "return"))
                        k = QMP_MSG_RETURN;
                else if (json_is_object(json_object_get(root, "error")))
                        k = QMP_MSG_ERROR;
                else if (json_is_string(json_object_get(root, "event")))
                        k = QMP_MSG_EVENT;
                else if (json_is_object(json_object_get(root, "QMP")))
                        k = QMP_MSG_GREETING;
        }
        if (ret_root && k != QMP_MSG_BAD)
                *ret_root = json_incref(root);
        json_decref(root);
        return k;
}

/* The next complete line into buf (NUL-terminated, without its "\r\n"); returns its
 * length + 1 to consume afterwards. */
static int next_line(Qmp *q, int64_t deadline, size_t *ret_consume)
{
        for (;;) {
                char *nl = memchr(q->buf, '\n', q->len);
                if (nl) {
                        *nl = 0;
                        if (nl > q->buf && nl[-1] == '\r')
                                nl[-1] = 0;
                        *ret_consume = (size_t)(nl - q->buf) + 1;
                        return 0;
                }
                if (q->len >= sizeof(q->buf) - 1)
                        return -EMSGSIZE;
                ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - 1 - q->len);
                if (n > 0) {
                        q->len += (size_t)n;
                        continue;
                }
                if (n == 0)
                        return -ECONNRESET;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                int r = fd_wait_readable(q->fd, deadline);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
        }
}

static void consume(Qmp *q, size_t n)
{
        memmove(q->buf, q->buf + n, q->len - n);
        q->len -= n;
}

/* Reads until a message of one of the wanted kinds (events are skipped). */
static int wait_for(Qmp *q, int64_t deadline, bool greeting, json_t **ret_root, Err *e)
{
        for (;;) {
                size_t used = 0;
                int r = next_line(q, deadline, &used);
                if (r < 0)
                        return err_set(e, -r, "QMP: %s", r == -ETIMEDOUT ? "no answer in time"
                                                          : r == -ECONNRESET ? "QEMU closed the monitor"
                                                                             : strerror(-r));
                json_t *root = NULL;
                QmpMsg k = qmp_classify(q->buf, &root);
                consume(q, used);
                if (k == QMP_MSG_EVENT || (k == QMP_MSG_GREETING && !greeting)) {
                        json_decref(root);
                        continue;
                }
                if (k == QMP_MSG_BAD || (greeting && k != QMP_MSG_GREETING)) {
                        json_decref(root);
                        return err_set(e, EPROTO, "QMP: unexpected message from QEMU");
                }
                *ret_root = root;
                return k;
        }
}

static int send_cmd(Qmp *q, const char *cmd, json_t *args, int64_t deadline, Err *e)
{
        _cleanup_json_ json_t *req = json_pack("{s:s}", "execute", cmd);
        if (!req || (args && json_object_set(req, "arguments", args) < 0))
                return err_set(e, ENOMEM, "QMP: out of memory");
        _cleanup_free_ char *text = json_dumps(req, JSON_COMPACT);
        if (!text)
                return err_set(e, ENOMEM, "QMP: out of memory");
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL: written with its length, never read as a string */
        int r = fd_write_all(q->fd, text, n + 1, deadline);
        return r < 0 ? err_set(e, -r, "QMP: cannot send %s: %s", cmd, strerror(-r)) : 0;
}

int qmp_execute(Qmp *q, const char *cmd, json_t *args, int64_t deadline_ms, json_t **ret, Err *e)
{
        _cleanup_json_ json_t *a = args;
        _cleanup_json_ json_t *root = NULL;
        int r = send_cmd(q, cmd, a, deadline_ms, e);
        if (r >= 0)
                r = wait_for(q, deadline_ms, false, &root, e);
        if (r < 0)
                return r;
        if (r == QMP_MSG_ERROR) {
                const char *desc = json_string_value(
                        json_object_get(json_object_get(root, "error"), "desc"));
                return err_set(e, EIO, "QMP %s: %.300s", cmd, desc ? desc : "failed");
        }
        if (ret)
                *ret = json_incref(json_object_get(root, "return"));
        return 0;
}

int qmp_handshake(Qmp *q, int64_t deadline_ms, Err *e)
{
        json_t *greeting = NULL;
        int r = wait_for(q, deadline_ms, true, &greeting, e);
        json_decref(greeting);
        if (r < 0)
                return r;
        return qmp_execute(q, "qmp_capabilities", NULL, deadline_ms, NULL, e);
}
