/* err.h — an error that can travel to a client.
 * Functions return -errno and fill an Err with a human message (and, where the API
 * needs a specific machine code, a snake_case code). Each layer may prefix context. */
#pragma once
#include "cleanup.h"

#define ERR_MSG_MAX 1024

typedef struct Err {
        int errnum;          /* positive errno, 0 = no error */
        const char *code;    /* static snake_case API code, or NULL to derive from errnum */
        char msg[ERR_MSG_MAX];
} Err;

/* Sets e (if non-NULL) and returns -errnum, so callers can `return err_set(...)`. */
int err_set(Err *e, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Same, with an explicit API code (e.g. "unknown_language_pack"). */
int err_setc(Err *e, int errnum, const char *code, const char *fmt, ...) _printf_(4, 5);
/* Prepends "context: " to the message; returns -e->errnum. */
int err_prefix(Err *e, const char *fmt, ...) _printf_(2, 3);
void err_clear(Err *e);
