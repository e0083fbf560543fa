/* requests.h — the decoded bodies of POST /sandboxes and POST /sandboxes/{id}/exec.
 * Decoding = the generic field table (jsondec) + the rules that span fields or depend on
 * Settings. Strings point into the json_t the body came from: keep it alive while in use. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sandbox/settings.h"
#include "shared/err.h"

typedef struct CreateRequest {
        const char *language_pack;
        unsigned vcpus, memory_mib, ttl_s; /* 0 = not given (ttl: see ttl_set) */
        bool ttl_set;
        char **env; /* "KEY=VALUE" (malloc'd), NULL-terminated, or NULL */
} CreateRequest;

typedef struct ExecBody {
        const char *code;
        size_t code_len;
        const char **argv; /* malloc'd array of borrowed strings, NULL-terminated */
        const char *stdin_data;
        size_t stdin_len;
        uint32_t timeout_ms; /* 0 = not given */
        char **env;
        const char *cwd;
        /* after decoding with Settings: the request's, else the server's default; 0 = none */
        uint32_t memory_limit_mib;
        uint32_t pids_limit;
} ExecBody;

#define CREATE_MIN_MEMORY_MIB 32u
#define API_MAX_VCPUS 32u /* Firecracker's limit */

int request_decode_create(json_t *obj, const Settings *s, CreateRequest *ret, Err *e);
void create_request_free(CreateRequest *r);
/* With s: memory_limit_mib and pids_limit checked against the server's maxima, and the
 * server's defaults filled in where the request has none. */
int request_decode_exec(json_t *obj, const Settings *s, ExecBody *ret, Err *e);
void exec_body_free(ExecBody *b);
