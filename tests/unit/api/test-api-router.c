/* test-api-router.c — router matching ({id}, 404 vs 405 + Allow), the errno → status
 * table, and api_dispatch() end to end over the fake manager: every endpoint's status,
 * headers and body shape, error bodies, UTF-8 repair of exec output. */
#include "../test.h"
#include "api/api.h"
#include "api/router.h"
#include "api/status.h"
#include "fake-manager.h"

static void test_match(void)
{
        const Route *rt = NULL;
        char id[ROUTER_PARAM_MAX], allow[64];
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "POST", "/sandboxes", &rt, id, allow,
                                  sizeof(allow)),
                     ROUTE_MATCH);
        CHECK(rt && strcmp(rt->pattern, "/sandboxes") == 0 && strcmp(rt->method, "POST") == 0);
        CHECK_STR(id, "");
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "GET", "/sandboxes/sb-12", &rt, id,
                                  allow, sizeof(allow)),
                     ROUTE_MATCH);
        CHECK_STR(id, "sb-12");
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "POST", "/sandboxes/x/exec", &rt, id,
                                  allow, sizeof(allow)),
                     ROUTE_MATCH);
        CHECK_STR(id, "x");
        CHECK_STR(rt->pattern, "/sandboxes/{id}/exec");

        static const char *not_found[] = {"/", "", "/sandboxes/", "/sandboxes//exec",
                                          "/sandboxes/a/b", "/sandboxes/a/exec/", "/sandboxesx",
                                          "/healthz/", "/HEALTHZ", "/language-packs/python"};
        for (size_t i = 0; i < ELEMENTSOF(not_found); i++) {
                RouteResult r = router_match(api_routes, api_n_routes, "GET", not_found[i], &rt,
                                             id, allow, sizeof(allow));
                CHECK_EQ_INT(r, ROUTE_NOT_FOUND);
                if (r != ROUTE_NOT_FOUND)
                        fprintf(stderr, "  path %s\n", not_found[i]);
        }
        char longp[400] = "/sandboxes/";
        memset(longp + 11, 'a', 300);
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "GET", longp, &rt, id, allow,
                                  sizeof(allow)),
                     ROUTE_NOT_FOUND);

        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "PUT", "/sandboxes", &rt, id, allow,
                                  sizeof(allow)),
                     ROUTE_METHOD_NOT_ALLOWED);
        CHECK_STR(allow, "POST, GET");
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "PATCH", "/sandboxes/a", &rt, id,
                                  allow, sizeof(allow)),
                     ROUTE_METHOD_NOT_ALLOWED);
        CHECK_STR(allow, "GET, DELETE");
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "GET", "/sandboxes/a/exec", &rt, id,
                                  allow, sizeof(allow)),
                     ROUTE_METHOD_NOT_ALLOWED);
        CHECK_STR(allow, "POST");
        CHECK_EQ_INT(router_match(api_routes, api_n_routes, "get", "/healthz", &rt, id, allow,
                                  sizeof(allow)),
                     ROUTE_METHOD_NOT_ALLOWED); /* methods are case-sensitive (RFC 9110) */
}

static void test_status(void)
{
        static const struct {
                int errnum;
                unsigned status;
        } rows[] = {
                {EINVAL, 400},   {ENOENT, 404},       {E2BIG, 413},      {EMSGSIZE, 413},
                {EFBIG, 413},    {EAGAIN, 503},       {EBUSY, 503},      {EHOSTDOWN, 502},
                {ECONNREFUSED, 502}, {ECONNRESET, 502}, {EPIPE, 502},    {EPROTO, 502},
                {EBADMSG, 502},  {ETIMEDOUT, 502},    {ENOMEM, 500},     {EIO, 500},
                {EPERM, 500},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const char *code = NULL;
                CHECK_EQ_INT(status_from_errno(rows[i].errnum, &code), rows[i].status);
                CHECK(code && *code);
                CHECK_EQ_INT(status_from_errno(-rows[i].errnum, NULL), rows[i].status);
        }
        const char *code = NULL;
        status_from_errno(ENOMEM, &code);
        CHECK_STR(code, "internal_error");
        status_from_errno(EINVAL, &code);
        CHECK_STR(code, "invalid_request");
}

/* ---- dispatch over the fake manager ---- */

static Pack packs[] = {
        {.name = "python", .description = "Python 3", .vcpus = 1, .memory_mib = 256},
        {.name = "shell", .description = "sh", .vcpus = 1, .memory_mib = 128},
};
static Settings settings = {.packs = packs, .n_packs = 2, .max_sandboxes = 3, .max_vcpus = 4,
                            .max_memory_mib = 2048, .max_ttl_s = 86400,
                            .default_pids_limit = 256, .max_pids_limit = 4096};

static json_t *call(Api *api, const char *method, const char *path, const char *body,
                    Response *resp)
{
        *resp = (Response){0};
        api_dispatch(api, method, path, body, body ? strlen(body) : 0, resp);
        if (!resp->body)
                return NULL;
        json_error_t je;
        json_t *j = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        return j;
}

static const char *err_code(json_t *j)
{
        return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}
static const char *err_msg(json_t *j)
{
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        return m ? m : "";
}

static void test_dispatch_errors(Api *api)
{
        Response r;
        json_t *j = call(api, "GET", "/nope", NULL, &r);
        CHECK_EQ_INT(r.status, 404);
        CHECK_STR(err_code(j), "not_found");
        CHECK_STR(r.content_type, "application/json");
        json_decref(j);
        response_free(&r);

        j = call(api, "DELETE", "/sandboxes", NULL, &r);
        CHECK_EQ_INT(r.status, 405);
        CHECK_STR(err_code(j), "method_not_allowed");
        CHECK_STR(r.allow, "POST, GET");
        json_decref(j);
        response_free(&r);

        j = call(api, "POST", "/sandboxes", "{\"language_pack\":\"cobol\"}", &r);
        CHECK_EQ_INT(r.status, 400);
        CHECK_STR(err_code(j), "unknown_language_pack");
        CHECK(strstr(err_msg(j), "python, shell") != NULL);
        json_decref(j);
        response_free(&r);

        j = call(api, "POST", "/sandboxes", "{\"language_pack\":", &r);
        CHECK_EQ_INT(r.status, 400);
        CHECK_STR(err_code(j), "invalid_json");
        json_decref(j);
        response_free(&r);

        j = call(api, "GET", "/sandboxes/missing", NULL, &r);
        CHECK_EQ_INT(r.status, 404);
        CHECK_STR(err_code(j), "sandbox_not_found");
        json_decref(j);
        response_free(&r);

        j = call(api, "POST", "/sandboxes/missing/exec", "{\"code\":\"1\"}", &r);
        CHECK_EQ_INT(r.status, 404);
        CHECK_STR(err_code(j), "sandbox_not_found");
        json_decref(j);
        response_free(&r);

        static const struct {
                int errnum;
                const char *code;
                unsigned status;
                const char *want_code;
        } fails[] = {
                {EHOSTDOWN, NULL, 502, "vmm_error"},
                {ETIMEDOUT, "boot_timeout", 502, "boot_timeout"},
                {EAGAIN, "capacity_reached", 503, "capacity_reached"},
                {ENOMEM, NULL, 500, "internal_error"},
        };
        for (size_t i = 0; i < ELEMENTSOF(fails); i++) {
                fake_create_errno = fails[i].errnum;
                fake_create_code = fails[i].code;
                j = call(api, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", &r);
                CHECK_EQ_INT(r.status, fails[i].status);
                CHECK_STR(err_code(j), fails[i].want_code);
                CHECK_STR(err_msg(j), "fake create failure");
                json_decref(j);
                response_free(&r);
        }
        fake_create_errno = 0;
        fake_create_code = NULL;
}

static void check_sandbox(json_t *s)
{
        static const char *keys[] = {"id", "language_pack", "state", "vcpus", "memory_mib",
                                     "ttl_s", "created_at", "expires_at", "vmm", "execs", "timings"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                CHECK(json_object_get(s, keys[i]) != NULL);
        CHECK_EQ_INT(json_object_size(s), ELEMENTSOF(keys));
        CHECK(json_is_integer(json_object_get(json_object_get(s, "timings"), "boot_ms")));
        CHECK(json_is_integer(json_object_get(json_object_get(s, "timings"), "ready_ms")));
}

static char *create_one(Api *api, const char *body)
{
        Response r;
        json_t *j = call(api, "POST", "/sandboxes", body, &r);
        CHECK_EQ_INT(r.status, 201);
        check_sandbox(j);
        const char *id = json_string_value(json_object_get(j, "id"));
        char *ret = id ? strdup(id) : NULL;
        char loc[128];
        snprintf(loc, sizeof(loc), "/sandboxes/%s", ret ? ret : "");
        CHECK_STR(r.location, loc);
        json_decref(j);
        response_free(&r);
        return ret;
}

static void test_lifecycle(Api *api)
{
        _cleanup_free_ char *id = create_one(
                api, "{\"language_pack\":\"python\",\"vcpus\":2,\"ttl_s\":60,\"env\":{\"A\":\"b\"}}");
        CHECK_EQ_INT(fake_last_spec.vcpus, 2);
        CHECK(fake_last_spec.ttl_set);
        CHECK_EQ_INT(fake_last_spec_n_env, 1);
        char path[128];
        snprintf(path, sizeof(path), "/sandboxes/%s", id);
        Response r;
        json_t *j = call(api, "GET", path, NULL, &r);
        CHECK_EQ_INT(r.status, 200);
        check_sandbox(j);
        CHECK_STR(json_string_value(json_object_get(j, "created_at")), "2023-11-14T22:13:20.123Z");
        CHECK_STR(json_string_value(json_object_get(j, "expires_at")), "2023-11-14T22:14:20.123Z");
        json_decref(j);
        response_free(&r);

        _cleanup_free_ char *id2 = create_one(api, "{\"language_pack\":\"shell\"}");
        j = call(api, "GET", "/sandboxes", NULL, &r);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_INT(json_array_size(json_object_get(j, "sandboxes")), 2);
        CHECK(json_is_null(json_object_get(json_array_get(json_object_get(j, "sandboxes"), 1),
                                           "expires_at")));
        json_decref(j);
        response_free(&r);

        j = call(api, "DELETE", path, NULL, &r);
        CHECK_EQ_INT(r.status, 204);
        CHECK(r.body == NULL && j == NULL);
        response_free(&r);
        j = call(api, "DELETE", path, NULL, &r);
        CHECK_EQ_INT(r.status, 404);
        CHECK_STR(err_code(j), "sandbox_not_found");
        json_decref(j);
        response_free(&r);
}

static void test_exec(Api *api)
{
        _cleanup_free_ char *id = create_one(api, "{\"language_pack\":\"python\"}");
        char path[128];
        snprintf(path, sizeof(path), "/sandboxes/%s/exec", id);
        fake_exec = (FakeExec){.out = "42\n\xFF\0x", .out_len = 6, .err = "e", .err_len = 1,
                               .exit_code = 3};
        Response r;
        json_t *j = call(api, "POST", path, "{\"argv\":[\"ls\",\"-l\"],\"stdin\":\"in\"}", &r);
        CHECK_EQ_INT(r.status, 200);
        json_t *out = json_object_get(j, "stdout");
        CHECK_EQ_INT(json_string_length(out), 8); /* "42\n" U+FFFD NUL "x" */
        CHECK(out && memcmp(json_string_value(out), "42\n\xEF\xBF\xBD\0x", 8) == 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "exit_code")), 3);
        CHECK(json_is_null(json_object_get(j, "signal")));
        CHECK(json_is_false(json_object_get(j, "timed_out")));
        CHECK(json_is_false(json_object_get(j, "stdout_truncated")));
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "duration_ms")), 12);
        CHECK_STR(json_string_value(json_object_get(j, "status")), "ok");
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "cpu_time_ms")), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "peak_memory_kib")), 0);
        CHECK(json_is_false(json_object_get(j, "limits_enforced")));
        CHECK_EQ_INT(json_object_size(j), 12);
        CHECK(fake_last_exec.argv && fake_last_exec.code == NULL);
        CHECK_EQ_INT(fake_last_exec.stdin_len, 2);
        CHECK_EQ_INT(fake_last_exec.memory_limit_mib, 0); /* the server's defaults */
        CHECK_EQ_INT(fake_last_exec.pids_limit, 256);
        json_decref(j);
        response_free(&r);

        fake_exec = (FakeExec){.signal = 9, .timed_out = true, .status = "timeout",
                               .limits_enforced = true, .cpu_time_ms = 98, .peak_memory_kib = 9000};
        j = call(api, "POST", path,
                 "{\"code\":\"while True: pass\",\"timeout_ms\":100,\"memory_limit_mib\":64,"
                 "\"pids_limit\":16}", &r);
        CHECK_EQ_INT(r.status, 200);
        CHECK(json_is_null(json_object_get(j, "exit_code")));
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "signal")), 9);
        CHECK(json_is_true(json_object_get(j, "timed_out")));
        CHECK_STR(json_string_value(json_object_get(j, "status")), "timeout");
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "cpu_time_ms")), 98);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "peak_memory_kib")), 9000);
        CHECK(json_is_true(json_object_get(j, "limits_enforced")));
        CHECK_EQ_INT(fake_last_exec.timeout_ms, 100);
        CHECK_EQ_INT(fake_last_exec.memory_limit_mib, 64);
        CHECK_EQ_INT(fake_last_exec.pids_limit, 16);
        json_decref(j);
        response_free(&r);
        fake_exec = (FakeExec){0};

        j = call(api, "POST", path, "{\"code\":\"x\",\"argv\":[\"y\"]}", &r);
        CHECK_EQ_INT(r.status, 400);
        CHECK_STR(err_code(j), "invalid_field");
        json_decref(j);
        response_free(&r);
        j = call(api, "POST", path, "{\"code\":\"x\",\"pids_limit\":5000}", &r); /* over the max */
        CHECK_EQ_INT(r.status, 400);
        CHECK_STR(err_code(j), "invalid_field");
        CHECK(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "pids_limit must be an integer between 1 and 4096") != NULL);
        json_decref(j);
        response_free(&r);
}

static void test_system(Api *api)
{
        Response r;
        json_t *j = call(api, "GET", "/language-packs", NULL, &r);
        CHECK_EQ_INT(r.status, 200);
        json_t *arr = json_object_get(j, "language_packs");
        CHECK_EQ_INT(json_array_size(arr), 2);
        CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "python");
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 1), "memory_mib")), 128);
        json_decref(j);
        response_free(&r);

        j = call(api, "GET", "/healthz", NULL, &r);
        CHECK_EQ_INT(r.status, 200);
        CHECK_STR(json_string_value(json_object_get(j, "status")), "ok");
        CHECK_STR(json_string_value(json_object_get(j, "vmm")), "process");
        CHECK(json_is_string(json_object_get(j, "version")));
        CHECK(json_is_integer(json_object_get(j, "sandboxes")));
        json_decref(j);
        response_free(&r);

        api_dispatch(api, "GET", "/metrics", NULL, 0, &r);
        CHECK_EQ_INT(r.status, 200);
        CHECK(r.content_type && strstr(r.content_type, "version=0.0.4"));
        static const char *names[] = {"ember_sandboxes ", "ember_sandboxes_created_total ",
                                      "ember_sandbox_create_failures_total 4",
                                      "ember_execs_total 2", "ember_exec_timeouts_total 1",
                                      "# TYPE ember_http_requests_total counter",
                                      "# HELP ember_sandboxes "};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                CHECK(r.body && strstr(r.body, names[i]));
                if (!r.body || !strstr(r.body, names[i]))
                        fprintf(stderr, "  missing %s\n", names[i]);
        }
        response_free(&r);
}

TEST_MAIN({
        test_match();
        test_status();
        Manager *m = NULL;
        Api *api = NULL;
        Err e = {0};
        CHECK_EQ_INT(manager_new(&settings, &m, &e), 0);
        CHECK_EQ_INT(api_new(m, &settings, NULL, &api, &e), 0);
        test_dispatch_errors(api);
        test_lifecycle(api);
        test_exec(api);
        test_system(api);
        api_free(api);
        manager_free(m);
})
