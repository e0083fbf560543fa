/* reply.c — the bodies ember-vmm answers with: Firecracker's {"fault_message": ...} for
 * every API-level failure and micro-http's own {"error": ...} for transport-level ones.
 * Never logs; allocation failures degrade to a bodiless 500. */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/err.h"

void reply_free(Reply *r)
{
        free(r->body);
        r->body = NULL;
}

void reply_json(Reply *r, int status, json_t *v)
{
        reply_free(r);
        r->body = v ? json_dumps(v, JSON_COMPACT) : NULL;
        r->status = r->body ? status : 500;
        json_decref(v);
}

/* A fault text may end in the middle of a UTF-8 sequence after truncation: cut it back. */
static json_t *string_lossy(const char *msg)
{
        char buf[ERR_MSG_MAX];
        snprintf(buf, sizeof(buf), "%s", msg);
        for (size_t n = strlen(buf), cut = 0; cut < 4 && n > cut; cut++) {
                json_t *s = json_stringn(buf, n - cut);
                if (s)
                        return s;
        }
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        return json_string(buf);
}

void reply_fault(Reply *r, const char *msg)
{
        json_t *o = json_object();
        if (o && json_object_set_new(o, "fault_message", string_lossy(msg)) < 0) {
                json_decref(o);
                o = NULL;
        }
        reply_json(r, 400, o);
}

void reply_http_error(Reply *r, const char *msg)
{
        reply_free(r);
        /* micro-http writes this by hand, raw newline and all (server.rs) */
        if (asprintf(&r->body, "{ \"error\": \"%s\nAll previous unanswered requests will be "
                     "dropped.\" }", msg) < 0)
                r->body = NULL;
        r->status = 400;
        r->close = true;
}
