/* qmp.h — a minimal QMP client (QEMU Machine Protocol, JSON lines) on one socket that QEMU
 * serves its monitor on. Synchronous: one command at a time, each bounded by a deadline;
 * asynchronous events met while waiting for a reply are dropped. Every line QEMU sends is
 * bounded (QMP_LINE_MAX). Never logs; errors carry QEMU's "desc". */
#pragma once
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/err.h"
#include "compat-limits.h"

#define QMP_LINE_MAX COMPAT_QMP_LINE_MAX /* our commands' replies are small */

typedef struct Qmp {
        int fd; /* borrowed; non-blocking is set by qmp_init */
        size_t len;
        char buf[QMP_LINE_MAX];
} Qmp;

int qmp_init(Qmp *q, int fd);
/* Waits for QEMU's greeting (sent once the machine is built: a QEMU stuck realizing a
 * device never sends it) and negotiates capabilities. */
int qmp_handshake(Qmp *q, int64_t deadline_ms, Err *e);
/* Runs cmd with args (a JSON object or NULL; the reference is stolen). *ret (optional)
 * gets the "return" value (a new reference). */
int qmp_execute(Qmp *q, const char *cmd, json_t *args, int64_t deadline_ms, json_t **ret, Err *e);
/* Parses one received line: the kind of message and, for an error, its description.
 * Exposed for the unit test. */
typedef enum { QMP_MSG_GREETING, QMP_MSG_RETURN, QMP_MSG_ERROR, QMP_MSG_EVENT, QMP_MSG_BAD } QmpMsg;
QmpMsg qmp_classify(const char *line, json_t **ret_root);
