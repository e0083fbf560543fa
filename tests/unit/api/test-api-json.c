/* test-api-json.c — the request field tables: for each request type a good body, a bad
 * value, an unknown field, a wrong type; plus the rules that span fields, the body
 * parser (invalid JSON, non-object, duplicates, NUL) and the messages that name fields. */
#include "../test.h"
#include "api/jsondec.h"
#include "api/requests.h"
#include "sandbox/manager.h"

static Settings settings = {.max_vcpus = 4, .max_memory_mib = 2048, .max_ttl_s = 86400,
                            .default_pids_limit = 256, .max_pids_limit = 4096,
                            .max_memory_limit_mib = 1024};

/* Parses + decodes a create body; returns the errno and leaves the Err in *e. */
static int create(const char *body, CreateRequest *cr, Err *e)
{
        json_t *root = NULL;
        err_clear(e);
        int r = jsondec_parse_object(body, strlen(body), &root, e);
        if (r >= 0) {
                r = request_decode_create(root, &settings, cr, e);
                if (r >= 0) /* keep strings alive: tests only look at numbers and env */
                        cr->language_pack = NULL;
                json_decref(root);
        }
        return r;
}

static int exec_body(const char *body, size_t len, ExecBody *b, json_t **keep, Err *e)
{
        err_clear(e);
        int r = jsondec_parse_object(body, len, keep, e);
        if (r >= 0)
                r = request_decode_exec(*keep, &settings, b, e);
        return r;
}

#define CHECK_ERR(r, e, want_code, want_sub)                                                       \
        do {                                                                                       \
                CHECK_EQ_INT(r, -EINVAL);                                                          \
                CHECK_STR((e).code, want_code);                                                    \
                CHECK(strstr((e).msg, want_sub) != NULL);                                          \
                if (!strstr((e).msg, want_sub))                                                    \
                        fprintf(stderr, "  message was: %s\n", (e).msg);                           \
        } while (0)

static void test_create(void)
{
        CreateRequest cr;
        Err e;
        CHECK_EQ_INT(create("{\"language_pack\":\"python\"}", &cr, &e), 0);
        CHECK_EQ_INT(cr.vcpus, 0);
        CHECK(!cr.ttl_set);
        CHECK(cr.env == NULL);
        create_request_free(&cr);

        CHECK_EQ_INT(create("{\"language_pack\":\"python\",\"vcpus\":2,\"memory_mib\":512,"
                            "\"ttl_s\":60,\"env\":{\"A\":\"1\",\"B\":\"x=y\"}}",
                            &cr, &e),
                     0);
        CHECK_EQ_INT(cr.vcpus, 2);
        CHECK_EQ_INT(cr.memory_mib, 512);
        CHECK_EQ_INT(cr.ttl_s, 60);
        CHECK(cr.ttl_set);
        CHECK(cr.env && cr.env[0] && cr.env[1] && !cr.env[2]);
        if (cr.env && cr.env[0] && cr.env[1]) {
                CHECK_STR(cr.env[0], "A=1");
                CHECK_STR(cr.env[1], "B=x=y");
        }
        create_request_free(&cr);

        int r = create("{}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "language_pack is required");
        r = create("{\"language_pack\":\"python\",\"gpu\":true}", &cr, &e);
        CHECK_ERR(r, e, "unknown_field", "\"gpu\"");
        r = create("{\"language_pack\":42}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "language_pack must be a string");
        r = create("{\"language_pack\":\"\"}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "language_pack");
        r = create("{\"language_pack\":\"python\",\"vcpus\":\"2\"}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "vcpus must be an integer between 1 and 32");
        r = create("{\"language_pack\":\"python\",\"vcpus\":0}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "vcpus must be an integer between 1 and 32");
        r = create("{\"language_pack\":\"python\",\"vcpus\":1.5}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "vcpus");
        r = create("{\"language_pack\":\"python\",\"vcpus\":-1}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "vcpus");
        r = create("{\"language_pack\":\"python\",\"vcpus\":null}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "vcpus");
        r = create("{\"language_pack\":\"python\",\"vcpus\":8}", &cr, &e); /* > max_vcpus */
        CHECK_ERR(r, e, "invalid_field", "vcpus must be an integer between 1 and 4");
        r = create("{\"language_pack\":\"python\",\"vcpus\":99999999999999999999}", &cr, &e);
        CHECK_EQ_INT(r, -EINVAL); /* jansson: too big an integer = invalid JSON */
        r = create("{\"language_pack\":\"python\",\"memory_mib\":4096}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "memory_mib must be an integer between 32 and 2048");
        r = create("{\"language_pack\":\"python\",\"ttl_s\":0}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "ttl_s must be an integer between 1 and 86400");
        r = create("{\"language_pack\":\"python\",\"ttl_s\":86401}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "ttl_s");
        r = create("{\"language_pack\":\"python\",\"env\":[\"A=1\"]}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "env must be an object of strings");
        r = create("{\"language_pack\":\"python\",\"env\":{\"A\":1}}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "env[\"A\"] must be a string");
        r = create("{\"language_pack\":\"python\",\"env\":{\"A=B\":\"1\"}}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "env keys");
        r = create("{\"language_pack\":\"python\",\"env\":{\"\":\"1\"}}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "env keys");
        r = create("{\"language_pack\":\"python\",\"env\":{\"A\":\"x\\u0000y\"}}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "NUL");
        r = create("{\"language_pack\":\"py\\u0000thon\"}", &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "language_pack must not contain NUL");
}

static void test_create_env_limit(void)
{
        char body[16384] = "{\"language_pack\":\"python\",\"env\":{";
        for (int i = 0; i <= SANDBOX_ENV_MAX; i++)
                snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s\"K%d\":\"v\"",
                         i ? "," : "", i);
        strcat(body, "}}");
        CreateRequest cr;
        Err e;
        int r = create(body, &cr, &e);
        CHECK_ERR(r, e, "invalid_field", "env must be an object of strings of at most 128");
}

static void test_exec(void)
{
        ExecBody b;
        Err e;
        json_t *root = NULL;
        const char *ok = "{\"code\":\"print(6*7)\",\"stdin\":\"a\\u0000b\",\"timeout_ms\":500,"
                         "\"env\":{\"X\":\"1\"},\"cwd\":\"/tmp\"}";
        CHECK_EQ_INT(exec_body(ok, strlen(ok), &b, &root, &e), 0);
        CHECK_STR(b.code, "print(6*7)");
        CHECK_EQ_INT(b.code_len, 10);
        CHECK_EQ_INT(b.stdin_len, 3); /* NUL allowed in stdin */
        CHECK_EQ_INT(b.timeout_ms, 500);
        CHECK(b.argv == NULL);
        CHECK_STR(b.cwd, "/tmp");
        CHECK(b.env && b.env[0] && !b.env[1]);
        CHECK_EQ_INT(b.memory_limit_mib, 0); /* the server's defaults: none and 256 */
        CHECK_EQ_INT(b.pids_limit, 256);
        exec_body_free(&b);
        json_decref(root);

        const char *limits = "{\"argv\":[\"true\"],\"memory_limit_mib\":64,\"pids_limit\":4096}";
        CHECK_EQ_INT(exec_body(limits, strlen(limits), &b, &root, &e), 0);
        CHECK_EQ_INT(b.memory_limit_mib, 64);
        CHECK_EQ_INT(b.pids_limit, 4096);
        exec_body_free(&b);
        json_decref(root);
        /* without Settings (no server policy): only the field table's bounds, no defaults */
        root = NULL;
        CHECK_EQ_INT(jsondec_parse_object(limits, strlen(limits), &root, &e), 0);
        CHECK_EQ_INT(request_decode_exec(root, NULL, &b, &e), 0);
        CHECK_EQ_INT(b.pids_limit, 4096);
        exec_body_free(&b);
        json_decref(root);
        root = NULL;
        CHECK_EQ_INT(jsondec_parse_object(ok, strlen(ok), &root, &e), 0);
        CHECK_EQ_INT(request_decode_exec(root, NULL, &b, &e), 0);
        CHECK_EQ_INT(b.pids_limit, 0);
        exec_body_free(&b);
        json_decref(root);

        const char *argv = "{\"argv\":[\"ls\",\"-l\"]}";
        CHECK_EQ_INT(exec_body(argv, strlen(argv), &b, &root, &e), 0);
        CHECK(b.argv && b.argv[0] && b.argv[1] && !b.argv[2]);
        if (b.argv && b.argv[1])
                CHECK_STR(b.argv[1], "-l");
        CHECK(b.code == NULL);
        exec_body_free(&b);
        json_decref(root);

        static const struct {
                const char *body, *code, *sub;
        } bad[] = {
                {"{}", "invalid_field", "one of code or argv is required"},
                {"{\"code\":\"x\",\"argv\":[\"ls\"]}", "invalid_field", "code and argv"},
                {"{\"argv\":[]}", "invalid_field", "argv must be an array of strings of 1 to"},
                {"{\"argv\":\"ls\"}", "invalid_field", "argv must be an array of strings"},
                {"{\"argv\":[\"ls\",3]}", "invalid_field", "argv[1] must be a string"},
                {"{\"argv\":[\"l\\u0000s\"]}", "invalid_field", "argv[0] must not contain NUL"},
                {"{\"code\":5}", "invalid_field", "code must be a string"},
                {"{\"code\":\"x\",\"timeout_ms\":0}", "invalid_field",
                 "timeout_ms must be an integer between 1 and 3600000"},
                {"{\"code\":\"x\",\"timeout_ms\":\"5\"}", "invalid_field", "timeout_ms"},
                {"{\"code\":\"x\",\"cwd\":\"/t\\u0000mp\"}", "invalid_field",
                 "cwd must not contain NUL"},
                {"{\"code\":\"x\",\"cwd\":\"\"}", "invalid_field", "cwd"},
                {"{\"code\":\"x\",\"stdin\":[1]}", "invalid_field", "stdin must be a string"},
                {"{\"code\":\"x\",\"env\":{\"A=\":\"b\"}}", "invalid_field", "env keys"},
                {"{\"code\":\"x\",\"env\":{\"A\":\"b\\u0000\"}}", "invalid_field", "NUL"},
                {"{\"code\":\"x\",\"shell\":true}", "unknown_field", "\"shell\""},
                {"{\"code\":\"x\",\"memory_limit_mib\":0}", "invalid_field", "memory_limit_mib must be an integer"},
                {"{\"code\":\"x\",\"memory_limit_mib\":1025}", "invalid_field",
                 "memory_limit_mib must be an integer between 1 and 1024"},
                {"{\"code\":\"x\",\"memory_limit_mib\":\"64\"}", "invalid_field", "memory_limit_mib"},
                {"{\"code\":\"x\",\"pids_limit\":-1}", "invalid_field", "pids_limit must be an integer"},
                {"{\"code\":\"x\",\"pids_limit\":4097}", "invalid_field",
                 "pids_limit must be an integer between 1 and 4096"},
                {"{\"code\":\"x\",\"pids_limit\":1.5}", "invalid_field", "pids_limit"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                root = NULL;
                int r = exec_body(bad[i].body, strlen(bad[i].body), &b, &root, &e);
                CHECK_ERR(r, e, bad[i].code, bad[i].sub);
                json_decref(root);
        }
}

static void test_parse(void)
{
        json_t *root = NULL;
        Err e = {0};
        int r = jsondec_parse_object("{\"a\":1,\"a\":2}", 13, &root, &e);
        CHECK_ERR(r, e, "invalid_json", "duplicate");
        r = jsondec_parse_object("{\"a\":", 5, &root, &e);
        CHECK_ERR(r, e, "invalid_json", "line 1, column");
        r = jsondec_parse_object("", 0, &root, &e);
        CHECK_ERR(r, e, "invalid_json", "invalid JSON");
        r = jsondec_parse_object(NULL, 0, &root, &e);
        CHECK_ERR(r, e, "invalid_json", "invalid JSON");
        r = jsondec_parse_object("[1]", 3, &root, &e);
        CHECK_ERR(r, e, "invalid_body", "JSON object");
        r = jsondec_parse_object("\"s\"", 3, &root, &e);
        CHECK_ERR(r, e, "invalid_body", "JSON object");
        r = jsondec_parse_object("{\"a\":\"\xC3\"}", 8, &root, &e); /* bad UTF-8 */
        CHECK_ERR(r, e, "invalid_json", "invalid JSON");
        r = jsondec_parse_object("{} x", 4, &root, &e);
        CHECK_ERR(r, e, "invalid_json", "invalid JSON");
        r = jsondec_parse_object("{\"k\\u0000\":1}", 13, &root, &e); /* NUL in a key */
        CHECK_EQ_INT(r, -EINVAL);
        root = NULL;
        CHECK_EQ_INT(jsondec_parse_object(" {\"a\":1} \n", 10, &root, &e), 0);
        CHECK(json_is_object(root));
        json_decref(root);
}

TEST_MAIN({
        test_create();
        test_create_env_limit();
        test_exec();
        test_parse();
})
