/* exec.c — POST /sandboxes/{id}/exec: decode, run through the manager, and turn the raw
 * result into JSON. Guest output is untrusted bytes: it goes through utf8_sanitize before
 * it may become a JSON string. Must not block anything but its own connection. */
#include <string.h>

#include "api-internal.h"
#include "handlers.h"
#include "jsondec.h"
#include "requests.h"
#include "utf8.h"

static json_t *output_json(const Buf *b)
{
        _cleanup_free_ char *s = NULL;
        size_t n = 0;
        if (utf8_sanitize(b->data ? b->data : (const uint8_t *)"", b->len, &s, &n, NULL) < 0)
                return NULL;
        return json_stringn(s, n);
}

/* The verdict and the figures beside the raw outcome (docs/openapi.json, ExecResult). */
static int exec_verdict_json(json_t *j, const ExecResult *res)
{
        json_t *v = json_pack("{s:s, s:I, s:I, s:b}", "status", res->status ? res->status : "ok",
                              "cpu_time_ms", (json_int_t)res->cpu_time_ms, "peak_memory_kib",
                              (json_int_t)res->peak_memory_kib, "limits_enforced", res->limits_enforced);
        int r = v ? json_object_update(j, v) : -1;
        json_decref(v);
        return r;
}

static json_t *exec_result_json(const ExecResult *res)
{
        bool signalled = res->signal > 0;
        json_t *out = output_json(&res->out), *err = output_json(&res->err);
        if (!out || !err) {
                json_decref(out);
                json_decref(err);
                return NULL;
        }
        json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:b, s:I, s:b, s:b}", "stdout", out, "stderr",
                              err, "exit_code",
                              signalled ? json_null() : json_integer(res->exit_code), "signal",
                              signalled ? json_integer(res->signal) : json_null(), "timed_out",
                              res->timed_out, "duration_ms", (json_int_t)res->duration_ms,
                              "stdout_truncated", res->stdout_truncated || res->out.dropped > 0,
                              "stderr_truncated", res->stderr_truncated || res->err.dropped > 0);
        if (j && exec_verdict_json(j, res) < 0) {
                json_decref(j);
                return NULL;
        }
        return j;
}

int handle_exec_sandbox(Api *api, const Request *req, Response *resp, Err *e)
{
        _cleanup_json_ json_t *root = NULL;
        int r = jsondec_parse_object(req->body, req->body_len, &root, e);
        if (r < 0)
                return r;
        _cleanup_(exec_body_free) ExecBody b = {0};
        r = request_decode_exec(root, api->settings, &b, e);
        if (r < 0)
                return r;
        ExecRequest er = {
                .argv = b.argv,
                .code = b.code,
                .code_len = b.code_len,
                .env = (const char **)b.env,
                .cwd = b.cwd,
                .stdin_data = (const uint8_t *)b.stdin_data,
                .stdin_len = b.stdin_len,
                .timeout_ms = b.timeout_ms,
                .memory_limit_mib = b.memory_limit_mib,
                .pids_limit = b.pids_limit,
        };
        ExecResult res = {0};
        r = manager_exec(api->manager, req->id, &er, &res, e);
        if (r < 0) {
                exec_result_free(&res);
                return sandboxes_errno(r, req->id, e);
        }
        json_t *j = exec_result_json(&res);
        exec_result_free(&res);
        return response_json(resp, 200, j);
}
