/* fuzz-api.c — emberd's public API as a client drives it: requests split from the input go
 * through api_dispatch() (router, JSON decoding, field tables, handlers, error table) over
 * the in-memory fake manager of tests/unit/api, and every answer is checked. Must not touch
 * HTTP transport (fuzz-http.c does) or a VM. */
#include <jansson.h>
#include <string.h>

#include "api/api.h"
#include "fake-manager.h"
#include "fuzz-util.h"

/* Checks: an allowed status, an error body of the documented shape, valid JSON (hence
 * valid UTF-8), a 400 for every body that is not JSON at all, output that is valid UTF-8
 * unchanged.
 * Input (fuzz-util.h's text format), requests run in order on one fresh Api and manager:
 *   "POST /sandboxes\n{\"language_pack\":\"python\"}" + "\n%%\n" + "GET /sandboxes/sb-0001"
 * Pseudo-requests set what the next execs return: "OUT" and "ERR" take their body as the
 * program's raw stdout / stderr bytes, "RES" takes exit code, signal, timed_out from it. */

static Pack packs[] = {
        {.name = "python", .description = "Python 3", .vcpus = 1, .memory_mib = 256},
        {.name = "shell", .description = "POSIX sh", .vcpus = 1, .memory_mib = 128},
};
static Settings settings = {.packs = packs, .n_packs = 2, .max_sandboxes = 4, .max_vcpus = 4,
                            .max_memory_mib = 2048, .max_ttl_s = 86400};

static const unsigned allowed_status[] = {200, 201, 204, 400, 404, 405, 413, 503};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_quiet();
        return 0;
}

static bool status_allowed(unsigned s)
{
        for (size_t i = 0; i < ELEMENTSOF(allowed_status); i++)
                if (allowed_status[i] == s)
                        return true;
        return false;
}

static bool snake_case(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
                        return false;
        return true;
}

static void check_error_body(json_t *j, const Response *r)
{
        json_t *err = json_object_get(j, "error");
        json_t *code = json_object_get(err, "code"), *msg = json_object_get(err, "message");
        FUZZ_CHECK(json_is_object(err) && json_object_size(j) == 1 && json_object_size(err) == 2,
                   "status %u: not an error body: %.*s", r->status, (int)r->body_len, r->body);
        FUZZ_CHECK(json_is_string(code) && snake_case(json_string_value(code)),
                   "status %u: bad error code in %.*s", r->status, (int)r->body_len, r->body);
        FUZZ_CHECK(json_is_string(msg) && json_string_length(msg) > 0,
                   "status %u: bad error message in %.*s", r->status, (int)r->body_len, r->body);
}

/* A body that no JSON parser accepts must be refused as such by both body routes, once the
 * router matched (a "not_found" from the router comes before any decoding). */
static void check_invalid_json(const FuzzReq *rq, const Response *r, const char *code)
{
        size_t n = strlen(rq->path);
        bool body_route = !strcmp(rq->method, "POST") &&
                          (!strcmp(rq->path, "/sandboxes") ||
                           (n > 5 && !strcmp(rq->path + n - 5, "/exec")));
        if (!body_route || (r->status == 404 && code && !strcmp(code, "not_found")) ||
            r->status == 405)
                return;
        json_error_t je;
        json_t *j = json_loadb(rq->body ? (const char *)rq->body : "", rq->body_len,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        json_decref(j);
        if (!j)
                FUZZ_CHECK(r->status == 400 && code && !strcmp(code, "invalid_json"),
                           "%s %s: body is not JSON, got %u %s", rq->method, rq->path, r->status,
                           code ? code : "(no code)");
}

/* The program's output comes back byte for byte when it is valid UTF-8 (NUL included). */
static void check_output(json_t *j, const char *field, const char *raw, size_t len)
{
        json_t *valid = json_stringn(raw ? raw : "", len); /* NULL: not UTF-8 */
        json_t *got = json_object_get(j, field);
        FUZZ_CHECK(json_is_string(got), "exec result without %s", field);
        if (valid)
                FUZZ_CHECK(json_string_length(got) == len &&
                                   !memcmp(json_string_value(got), raw ? raw : "", len),
                           "%s changed on the way: %zu bytes became %zu", field, len,
                           json_string_length(got));
        json_decref(valid);
}

static void check_response(const FuzzReq *rq, const Response *r)
{
        FUZZ_CHECK(status_allowed(r->status), "%s %s: status %u", rq->method, rq->path, r->status);
        if (r->status == 204) {
                FUZZ_CHECK(r->body_len == 0, "204 with a body");
                return;
        }
        FUZZ_CHECK(r->body && r->body_len > 0 && r->content_type, "status %u without a body",
                   r->status);
        if (r->status == 405)
                FUZZ_CHECK(r->allow[0], "405 without Allow");
        if (r->status == 201)
                FUZZ_CHECK(!strncmp(r->location, "/sandboxes/sb-", 14), "201 without Location");
        if (!strcmp(r->content_type, "application/json")) {
                json_error_t je;
                json_t *j = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, &je);
                FUZZ_CHECK(json_is_object(j), "answer is not a JSON object (%s): %.*s", je.text,
                           (int)r->body_len, r->body);
                if (r->status >= 400)
                        check_error_body(j, r);
                const char *code = json_string_value(
                        json_object_get(json_object_get(j, "error"), "code"));
                check_invalid_json(rq, r, code);
                size_t n = strlen(rq->path);
                if (r->status == 200 && n > 5 && !strcmp(rq->path + n - 5, "/exec")) {
                        check_output(j, "stdout", fake_exec.out, fake_exec.out_len);
                        check_output(j, "stderr", fake_exec.err, fake_exec.err_len);
                }
                json_decref(j);
        } else {
                FUZZ_CHECK(r->status == 200 && !strcmp(rq->path, "/metrics"),
                           "non-JSON answer to %s %s", rq->method, rq->path);
        }
}

/* "RES": exit code, signal, timed_out of the next execs, one byte each. */
static void set_result(const FuzzReq *rq)
{
        FuzzIn in = {rq->body, rq->body_len};
        fake_exec.exit_code = fuzz_u8(&in);
        fake_exec.signal = fuzz_u8(&in) % 65;
        fake_exec.timed_out = fuzz_u8(&in) & 1;
}

/* Pseudo-requests; their bodies stay alive in keep[] until the end of the input, because
 * fake_exec points into them. */
static bool pseudo_request(FuzzReq *rq, uint8_t *keep[2])
{
        bool out = !strcmp(rq->method, "OUT");
        if (out || !strcmp(rq->method, "ERR")) {
                *(out ? &fake_exec.out : &fake_exec.err) = (const char *)rq->body;
                *(out ? &fake_exec.out_len : &fake_exec.err_len) = rq->body_len;
                free(keep[out]);
                keep[out] = TAKE_PTR(rq->body);
                return true;
        }
        if (!strcmp(rq->method, "RES")) {
                set_result(rq);
                return true;
        }
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t fds = fuzz_fd_snapshot();
        Manager *m = NULL;
        Api *api = NULL;
        Err e = {0};
        FUZZ_CHECK(manager_new(&settings, &m, &e) == 0, "manager_new: %s", e.msg);
        FUZZ_CHECK(api_new(m, &settings, NULL, &api, &e) == 0, "api_new: %s", e.msg);
        fake_exec = (FakeExec){0};
        uint8_t *keep[2] = {NULL, NULL};
        FuzzIn in = {data, size};
        FuzzReq rq;
        while (fuzz_next_request(&in, &rq)) {
                if (!pseudo_request(&rq, keep)) {
                        Response r = {0};
                        api_dispatch(api, rq.method, rq.path, (const char *)rq.body,
                                     rq.body_len, &r);
                        check_response(&rq, &r);
                        response_free(&r);
                }
                fuzz_req_free(&rq);
        }
        api_free(api);
        manager_free(m);
        fake_exec = (FakeExec){0};
        free(keep[0]);
        free(keep[1]);
        fuzz_fd_check(fds);
        return 0;
}
