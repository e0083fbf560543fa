/* err.c — formatting of Err messages. Never allocates. */
#include "err.h"

#include <stdarg.h>
#include <string.h>

static int vset(Err *e, int errnum, const char *code, const char *fmt, va_list ap)
{
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        if (e) {
                e->errnum = errnum;
                e->code = code;
                vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        }
        return -errnum;
}

int err_set(Err *e, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = vset(e, errnum, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int err_setc(Err *e, int errnum, const char *code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = vset(e, errnum, code, fmt, ap);
        va_end(ap);
        return r;
}

int err_prefix(Err *e, const char *fmt, ...)
{
        if (!e)
                return -EIO;
        char prefix[256], old[ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof(old));
        /* truncation is fine: the tail of a long message is the least useful part */
        size_t n = strlen(prefix);
        if (n + 2 >= sizeof(e->msg))
                n = sizeof(e->msg) - 3;
        memcpy(e->msg, prefix, n);
        memcpy(e->msg + n, ": ", 2);
        size_t room = sizeof(e->msg) - n - 3;
        size_t ol = strnlen(old, room);
        memcpy(e->msg + n + 2, old, ol);
        e->msg[n + 2 + ol] = 0;
        return -(e->errnum ? e->errnum : EIO);
}

void err_clear(Err *e)
{
        if (e) {
                e->errnum = 0;
                e->code = NULL;
                e->msg[0] = 0;
        }
}
