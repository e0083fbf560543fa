/* reply.h — what the API answers: a status, an optional JSON body and two header flags.
 * Built by the router and the handlers, written out by api.c. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

typedef struct Reply {
        int status;       /* 0 = not set yet (a handler that sets nothing means 204) */
        char *body;       /* NULL = no body; malloc'd */
        bool deprecation; /* "Deprecation: true" header */
        bool close;       /* close the connection after this reply */
} Reply;

void reply_free(Reply *r);
/* Steals v; 500 with no body if v is NULL (allocation failure). */
void reply_json(Reply *r, int status, json_t *v);
/* 400 {"fault_message": msg} */
void reply_fault(Reply *r, const char *msg);
/* micro-http's own 400: {"error": "<msg>\nAll previous unanswered requests will be dropped."},
 * raw newline included, and the connection is closed. */
void reply_http_error(Reply *r, const char *msg);
