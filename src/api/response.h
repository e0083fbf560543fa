/* response.h — an HTTP response as plain data, built by handlers and sent by server.c.
 * Knows JSON and the error body shape; knows nothing about sockets or libmicrohttpd. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/err.h"

typedef struct Response {
        unsigned status;
        char *body; /* malloc'd, or NULL for an empty body */
        size_t body_len;
        const char *content_type; /* static; NULL when there is no body */
        char location[128];       /* "Location" header when non-empty */
        char allow[64];           /* "Allow" header when non-empty */
        bool www_authenticate;    /* add "WWW-Authenticate: Bearer" */
} Response;

void response_free(Response *r);
/* Serialises root (always consumed) as the body. -ENOMEM leaves a fixed 500 body. */
int response_json(Response *r, unsigned status, json_t *root);
/* {"error": {"code": code, "message": ...}} with the given status. */
void response_error(Response *r, unsigned status, const char *code, const char *fmt, ...)
        _printf_(4, 5);
/* Status from the errno table, code from e->code or the table, message from e->msg. */
void response_from_err(Response *r, const Err *e);
/* Plain text body (e.g. Prometheus metrics); takes ownership of body. */
void response_text(Response *r, unsigned status, const char *content_type, char *body,
                   size_t len);
