/* fc-api.h — a Firecracker API client: HTTP/1.1 over the VMM's Unix socket (libcurl).
 * One FcApi per VM, one keep-alive connection, calls serialized, a total timeout per call.
 * A non-2xx answer becomes -EIO with "PUT /path: <status>: <fault_message>".
 * It never knows which program answers (Firecracker or ember-vmm) and never logs. */
#pragma once
#include <jansson.h>
#include <stddef.h>

#include "../shared/err.h"

#define FC_API_MAX_RESPONSE (64u * 1024) /* a VMM answer larger than this is an error */
#define FC_API_FAULT_MAX 2048u           /* bytes of an error body kept for the message */

typedef struct FcApi FcApi;

int fc_api_new(const char *sock_path, FcApi **ret);
void fc_api_free(FcApi *a);

/* PUT body to path; 0 on any 2xx. */
int fc_api_put(FcApi *a, const char *path, json_t *body, int timeout_ms, Err *e);
/* GET path; on 200 *ret is the parsed JSON answer. */
int fc_api_get(FcApi *a, const char *path, int timeout_ms, json_t **ret, Err *e);

/* The human text of an error body: "fault_message", else micro-http's {"error": ...}
 * (which may hold a raw newline and so is not strict JSON), else the raw body. Control
 * characters become spaces; the result always fits out (NUL-terminated). */
void fc_api_fault_text(const char *body, size_t len, char *out, size_t out_size);
