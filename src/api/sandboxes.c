/* sandboxes.c — handlers of /sandboxes and /sandboxes/{id}: create, list, get, delete,
 * and the JSON shape of a sandbox. Validation is requests.c's; lifecycles are the
 * manager's. Must not hold anything across calls: every request stands alone. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "handlers.h"
#include "jsondec.h"
#include "requests.h"

/* RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z" */
static json_t *rfc3339(int64_t epoch_ms)
{
        char buf[96];
        time_t t = (time_t)(epoch_ms / 1000);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return json_null();
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(epoch_ms % 1000));
        return json_string(buf);
}

json_t *sandboxes_json(const SandboxInfo *si)
{
        return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:s, s:I, s:{s:I, s:I}}",
                         "id", si->id, "language_pack", si->language_pack, "state",
                         si->state ? si->state : "unknown", "vcpus", (json_int_t)si->vcpus,
                         "memory_mib", (json_int_t)si->memory_mib, "ttl_s",
                         (json_int_t)si->ttl_s, "created_at", rfc3339(si->created_at_ms),
                         "expires_at",
                         si->expires_at_ms ? rfc3339(si->expires_at_ms) : json_null(), "vmm",
                         si->vmm, "execs", (json_int_t)si->execs, "timings", "boot_ms",
                         (json_int_t)si->boot_ms, "ready_ms", (json_int_t)si->ready_ms);
}

int handle_create_sandbox(Api *api, const Request *req, Response *resp, Err *e)
{
        _cleanup_json_ json_t *root = NULL;
        int r = jsondec_parse_object(req->body, req->body_len, &root, e);
        if (r < 0)
                return r;
        _cleanup_(create_request_free) CreateRequest cr = {0};
        r = request_decode_create(root, api->settings, &cr, e);
        if (r < 0)
                return r;
        SandboxSpec spec = {
                .language_pack = cr.language_pack,
                .vcpus = cr.vcpus,
                .memory_mib = cr.memory_mib,
                .ttl_s = cr.ttl_s,
                .ttl_set = cr.ttl_set,
                .env = (const char **)cr.env,
        };
        SandboxInfo si = {0};
        r = manager_create(api->manager, &spec, &si, e);
        if (r < 0)
                return r;
        snprintf(resp->location, sizeof(resp->location), "/sandboxes/%s", si.id);
        return response_json(resp, 201, sandboxes_json(&si));
}

int handle_list_sandboxes(Api *api, const Request *req, Response *resp, Err *e)
{
        _cleanup_free_ SandboxInfo *list = NULL;
        size_t n = 0;
        int r = manager_list(api->manager, &list, &n);
        if (r < 0)
                return err_set(e, r, "listing sandboxes: %s", strerror(-r));
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
                if (json_array_append_new(arr, sandboxes_json(&list[i])) < 0) {
                        json_decref(arr);
                        arr = NULL;
                }
        return response_json(resp, 200, arr ? json_pack("{s:o}", "sandboxes", arr) : NULL);
}

/* The manager's ENOENT for an id becomes the API's sandbox_not_found. */
int sandboxes_errno(int r, const char *id, Err *e)
{
        if (r == -ENOENT && !e->code)
                return err_setc(e, ENOENT, "sandbox_not_found", "no sandbox \"%.64s\"", id);
        return r;
}

int handle_get_sandbox(Api *api, const Request *req, Response *resp, Err *e)
{
        SandboxInfo si = {0};
        int r = manager_get(api->manager, req->id, &si, e);
        if (r < 0)
                return sandboxes_errno(r, req->id, e);
        return response_json(resp, 200, sandboxes_json(&si));
}

int handle_delete_sandbox(Api *api, const Request *req, Response *resp, Err *e)
{
        int r = manager_delete(api->manager, req->id, e);
        if (r < 0)
                return sandboxes_errno(r, req->id, e);
        response_text(resp, 204, NULL, NULL, 0);
        return 0;
}
