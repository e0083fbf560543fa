/* response.c — building Response values (see response.h). Never fails silently: when
 * memory runs out the response degrades to a fixed 500 JSON body, never to no response. */
#include "response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "utf8.h"

#define JSON_CT "application/json"

static void response_oom(Response *r)
{
        static const char body[] =
                "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
        free(r->body);
        r->status = 500;
        r->body = strdup(body);
        r->body_len = r->body ? strlen(body) : 0;
        r->content_type = JSON_CT;
}

void response_free(Response *r)
{
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
}

int response_json(Response *r, unsigned status, json_t *root)
{
        char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!s) {
                response_oom(r);
                return -ENOMEM;
        }
        free(r->body);
        r->status = status;
        r->body = s;
        r->body_len = strlen(s);
        r->content_type = JSON_CT;
        return 0;
}

static void response_verror(Response *r, unsigned status, const char *code, const char *fmt,
                            va_list ap)
{
        char msg[ERR_MSG_MAX];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        /* a message may quote client bytes cut mid-sequence: json_string rejects invalid
         * UTF-8, so repair the text rather than drop the error */
        json_t *m = json_string(msg);
        if (!m) {
                _cleanup_free_ char *fixed = NULL;
                size_t n;
                if (utf8_sanitize((const uint8_t *)msg, strlen(msg), &fixed, &n, NULL) == 0)
                        m = json_stringn(fixed, n);
        }
        json_t *root = json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", m);
        response_json(r, status, root);
}

void response_error(Response *r, unsigned status, const char *code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        response_verror(r, status, code, fmt, ap);
        va_end(ap);
}

void response_from_err(Response *r, const Err *e)
{
        const char *code = NULL;
        int errnum = e->errnum ? e->errnum : EIO;
        unsigned status = status_from_errno(errnum, &code);
        if (e->code)
                code = e->code;
        response_error(r, status, code, "%s", e->msg[0] ? e->msg : strerror(errnum));
}

void response_text(Response *r, unsigned status, const char *content_type, char *body,
                   size_t len)
{
        free(r->body);
        r->status = status;
        r->body = body;
        r->body_len = len;
        r->content_type = content_type;
}
