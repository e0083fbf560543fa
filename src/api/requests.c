/* requests.c — field tables for the request bodies (see requests.h). Bounds come from
 * src/proto/limits.h so that nothing accepted here can be refused later by the agent
 * framing for a reason the client could not see. No I/O, no manager calls. */
#include "requests.h"

#include <stdlib.h>
#include <string.h>

#include "jsondec.h"
#include "proto/limits.h"
#include "sandbox/manager.h"

#define TABLE_LEN(t) (sizeof(t) / sizeof((t)[0]))

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* env object → NULL-terminated "KEY=VALUE" strings; keys non-empty and without '='. */
static int env_build(json_t *obj, char ***ret, Err *e)
{
        char **v = calloc(json_object_size(obj) + 1, sizeof(char *));
        if (!v)
                return err_set(e, ENOMEM, "out of memory");
        size_t i = 0;
        const char *k;
        json_t *x;
        json_object_foreach(obj, k, x) {
                if (strlen(k) + 1 + json_string_length(x) > PROTO_MAX_STRING) {
                        strv_free(v);
                        return err_setc(e, EINVAL, "invalid_field",
                                        "env entry \"%.64s\" must be at most %u bytes", k,
                                        PROTO_MAX_STRING);
                }
                if (!*k || strchr(k, '=')) {
                        strv_free(v);
                        return err_setc(e, EINVAL, "invalid_field",
                                        "env keys must be non-empty and must not contain '=' "
                                        "(got \"%.64s\")",
                                        k);
                }
                if (asprintf(&v[i], "%s=%s", k, json_string_value(x)) < 0) {
                        v[i] = NULL;
                        strv_free(v);
                        return err_set(e, ENOMEM, "out of memory");
                }
                i++;
        }
        *ret = v;
        return 0;
}

/* ---- POST /sandboxes ---- */

static int set_pack(void *d, json_t *v, Err *e)
{
        ((CreateRequest *)d)->language_pack = json_string_value(v);
        return 0;
}
static int set_vcpus(void *d, json_t *v, Err *e)
{
        ((CreateRequest *)d)->vcpus = (unsigned)json_integer_value(v);
        return 0;
}
static int set_memory(void *d, json_t *v, Err *e)
{
        ((CreateRequest *)d)->memory_mib = (unsigned)json_integer_value(v);
        return 0;
}
static int set_ttl(void *d, json_t *v, Err *e)
{
        CreateRequest *r = d;
        r->ttl_s = (unsigned)json_integer_value(v);
        r->ttl_set = true;
        return 0;
}
static int set_create_env(void *d, json_t *v, Err *e)
{
        return env_build(v, &((CreateRequest *)d)->env, e);
}

static const JsonField create_fields[] = {
        {"language_pack", JK_STRING, true, 1, 63, set_pack},
        {"vcpus", JK_UINT, false, 1, API_MAX_VCPUS, set_vcpus},
        {"memory_mib", JK_UINT, false, CREATE_MIN_MEMORY_MIB, 1024u * 1024, set_memory},
        {"ttl_s", JK_UINT, false, 0, 10u * 365 * 86400, set_ttl},
        {"env", JK_STRING_MAP, false, 0, SANDBOX_ENV_MAX, set_create_env},
};

/* The table holds what is meaningful at all; this holds what this server allows. */
static int create_check_settings(const CreateRequest *r, const Settings *s, Err *e)
{
        if (r->vcpus && s->max_vcpus && r->vcpus > s->max_vcpus)
                return err_setc(e, EINVAL, "invalid_field",
                                "vcpus must be an integer between 1 and %u", s->max_vcpus);
        if (r->memory_mib && s->max_memory_mib && r->memory_mib > s->max_memory_mib)
                return err_setc(e, EINVAL, "invalid_field",
                                "memory_mib must be an integer between %u and %u",
                                CREATE_MIN_MEMORY_MIB, s->max_memory_mib);
        if (r->ttl_set && s->max_ttl_s && (r->ttl_s == 0 || r->ttl_s > s->max_ttl_s))
                return err_setc(e, EINVAL, "invalid_field",
                                "ttl_s must be an integer between 1 and %u", s->max_ttl_s);
        return 0;
}

int request_decode_create(json_t *obj, const Settings *s, CreateRequest *ret, Err *e)
{
        *ret = (CreateRequest){0};
        int r = jsondec_object(obj, create_fields, TABLE_LEN(create_fields), ret, e);
        if (r >= 0 && s)
                r = create_check_settings(ret, s, e);
        if (r < 0)
                create_request_free(ret);
        return r;
}

void create_request_free(CreateRequest *r)
{
        strv_free(r->env);
        r->env = NULL;
}

/* ---- POST /sandboxes/{id}/exec ---- */

static int set_code(void *d, json_t *v, Err *e)
{
        ExecBody *b = d;
        b->code = json_string_value(v);
        b->code_len = json_string_length(v);
        return 0;
}
static int set_argv(void *d, json_t *v, Err *e)
{
        ExecBody *b = d;
        b->argv = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!b->argv)
                return err_set(e, ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(v); i++)
                b->argv[i] = json_string_value(json_array_get(v, i));
        return 0;
}
static int set_stdin(void *d, json_t *v, Err *e)
{
        ExecBody *b = d;
        b->stdin_data = json_string_value(v);
        b->stdin_len = json_string_length(v);
        return 0;
}
static int set_timeout(void *d, json_t *v, Err *e)
{
        ((ExecBody *)d)->timeout_ms = (uint32_t)json_integer_value(v);
        return 0;
}
static int set_exec_env(void *d, json_t *v, Err *e) { return env_build(v, &((ExecBody *)d)->env, e); }
static int set_cwd(void *d, json_t *v, Err *e)
{
        ((ExecBody *)d)->cwd = json_string_value(v);
        return 0;
}
static int set_memory_limit(void *d, json_t *v, Err *e)
{
        ((ExecBody *)d)->memory_limit_mib = (uint32_t)json_integer_value(v);
        return 0;
}
static int set_pids_limit(void *d, json_t *v, Err *e)
{
        ((ExecBody *)d)->pids_limit = (uint32_t)json_integer_value(v);
        return 0;
}

static const JsonField exec_fields[] = {
        {"code", JK_BYTES, false, 0, PROTO_MAX_CODE, set_code},
        {"argv", JK_STRING_ARRAY, false, 1, PROTO_MAX_ARGS, set_argv},
        {"stdin", JK_BYTES, false, 0, EXEC_MAX_STDIN, set_stdin},
        {"timeout_ms", JK_UINT, false, 1, EXEC_MAX_TIMEOUT_MS, set_timeout},
        {"env", JK_STRING_MAP, false, 0, PROTO_MAX_ENV, set_exec_env},
        {"cwd", JK_STRING, false, 1, 4096, set_cwd},
        {"memory_limit_mib", JK_UINT, false, 1, EXEC_MAX_MEMORY_LIMIT_MIB, set_memory_limit},
        {"pids_limit", JK_UINT, false, 1, EXEC_MAX_PIDS_LIMIT, set_pids_limit},
};

/* This server's maxima, then its defaults for what the request left out. */
static int exec_check_settings(ExecBody *b, const Settings *s, Err *e)
{
        unsigned max_mem = s->max_memory_limit_mib ? s->max_memory_limit_mib : EXEC_MAX_MEMORY_LIMIT_MIB;
        unsigned max_pids = s->max_pids_limit ? s->max_pids_limit : EXEC_MAX_PIDS_LIMIT;
        if (b->memory_limit_mib > max_mem)
                return err_setc(e, EINVAL, "invalid_field",
                                "memory_limit_mib must be an integer between 1 and %u", max_mem);
        if (b->pids_limit > max_pids)
                return err_setc(e, EINVAL, "invalid_field",
                                "pids_limit must be an integer between 1 and %u", max_pids);
        if (!b->memory_limit_mib)
                b->memory_limit_mib = MIN(s->default_memory_limit_mib, EXEC_MAX_MEMORY_LIMIT_MIB);
        if (!b->pids_limit)
                b->pids_limit = MIN(s->default_pids_limit, EXEC_MAX_PIDS_LIMIT);
        return 0;
}

int request_decode_exec(json_t *obj, const Settings *s, ExecBody *ret, Err *e)
{
        *ret = (ExecBody){0};
        int r = jsondec_object(obj, exec_fields, TABLE_LEN(exec_fields), ret, e);
        if (r >= 0 && !!ret->code == !!ret->argv)
                r = err_setc(e, EINVAL, "invalid_field",
                             ret->code ? "code and argv are mutually exclusive: give one"
                                       : "one of code or argv is required");
        if (r >= 0 && s)
                r = exec_check_settings(ret, s, e);
        if (r < 0)
                exec_body_free(ret);
        return r;
}

void exec_body_free(ExecBody *b)
{
        free(b->argv);
        b->argv = NULL;
        strv_free(b->env);
        b->env = NULL;
}
