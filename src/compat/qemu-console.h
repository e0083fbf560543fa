/* qemu-console.h — one thread that carries what QEMU prints: the guest's serial console
 * (a socket QEMU writes ttyS0 to) into the console fd (ember-vmm's stdout = the sandbox's
 * console.log, or PUT /serial's file), and QEMU's own stderr into ember-vmm's log, one
 * "qemu: " line at a time, remembering the last line for error messages. The guest controls
 * the console's volume: past QEMU_CONSOLE_MAX bytes a regular file is emptied and starts
 * again with a marker (the newest lines are the ones worth reading; disk use is bounded). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../shared/err.h"
#include "compat-limits.h"

#define QEMU_CONSOLE_MAX COMPAT_CONSOLE_MAX        /* console bytes before the file restarts */
#define QEMU_CONSOLE_LINE_MAX COMPAT_QEMU_LINE_MAX /* one logged QEMU stderr line */

typedef struct QemuConsole QemuConsole;

/* Takes serial_fd and err_fd (read ends; ownership passes, even on failure); console_fd is
 * borrowed (dup'd). */
int qemu_console_start(int serial_fd, int err_fd, int console_fd, QemuConsole **ret, Err *e);
/* Waits until both inputs reached EOF (QEMU exited) or the deadline passed, then stops the
 * thread: everything QEMU printed before it died is in the console file after this. */
void qemu_console_finish(QemuConsole *c, int64_t deadline_ms);
/* After finish: one line of ember-vmm's own in the console (why QEMU ended, for the
 * reader of the console — emberd quotes its tail). */
void qemu_console_note(QemuConsole *c, const char *line);
/* The last line QEMU wrote on stderr ("" if none). Safe while the thread runs. */
void qemu_console_last_error(QemuConsole *c, char *out, size_t size);
/* Console bytes written so far (for the tests). */
uint64_t qemu_console_bytes(QemuConsole *c);
/* Stops the thread (if running) and frees. NULL-safe. */
void qemu_console_free(QemuConsole *c);
