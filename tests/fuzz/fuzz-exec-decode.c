/* fuzz-exec-decode.c — the guest side of an EXEC frame: proto_exec_decode() over the raw
 * payload, then what emberd-init builds from a decoded request (exec_build_env). Checks
 * what the decoder promises (strings end inside the payload with their only NUL, env
 * entries have a key and '=', code_name is a bare file name) and that encode(decode(x))
 * decodes to the same request. Runs no program and touches no file. */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "fuzz-util.h"
#include "proto/proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static void check_str(const uint8_t *p, size_t len, const char *s, const char *what)
{
        FUZZ_CHECK((const uint8_t *)s >= p && (const uint8_t *)s < p + len, "%s outside the payload",
                   what);
        size_t room = len - (size_t)((const uint8_t *)s - p);
        FUZZ_CHECK(memchr(s, 0, room), "%s not terminated inside the payload", what);
}

static void check_request(const uint8_t *p, size_t len, const ProtoExec *x)
{
        FUZZ_CHECK(x->argc > 0 || x->code, "neither argv nor code");
        FUZZ_CHECK(x->argc <= PROTO_MAX_ARGS && x->envc <= PROTO_MAX_ENV, "too many strings");
        for (uint32_t i = 0; i < x->argc; i++)
                check_str(p, len, x->argv[i], "argv");
        FUZZ_CHECK(!x->argv || !x->argv[x->argc], "argv not NULL-terminated");
        for (uint32_t i = 0; i < x->envc; i++) {
                check_str(p, len, x->env[i], "env");
                FUZZ_CHECK(x->env[i][0] != '=' && strchr(x->env[i], '='), "env entry \"%s\"",
                           x->env[i]);
        }
        if (x->cwd)
                check_str(p, len, x->cwd, "cwd");
        if (x->code)
                FUZZ_CHECK(x->code >= p && x->code_len <= len - (size_t)(x->code - p),
                           "code outside the payload");
        if (x->code_name) {
                check_str(p, len, x->code_name, "code_name");
                FUZZ_CHECK(x->code && !strchr(x->code_name, '/') && strcmp(x->code_name, ".") &&
                                   strcmp(x->code_name, ".."),
                           "code_name \"%s\"", x->code_name);
        }
}

/* emberd-init's environment: defaults overridden by the request, one entry per key. */
static void check_env(const ProtoExec *x)
{
        const char **env = NULL;
        FUZZ_CHECK(exec_build_env(x, &env) == 0, "exec_build_env failed");
        size_t n = 0;
        for (; env[n]; n++) {
                const char *eq = strchr(env[n], '=');
                FUZZ_CHECK(eq, "env entry without '='");
                for (size_t j = 0; j < n; j++)
                        FUZZ_CHECK(strncmp(env[j], env[n], (size_t)(eq - env[n]) + 1),
                                   "key of \"%s\" twice", env[n]);
        }
        FUZZ_CHECK(n <= x->envc + 3, "%zu entries from %u", n, x->envc);
        free(env);
}

static bool same_str(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void check_roundtrip(const ProtoExec *x)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        int r = proto_exec_encode(x, &buf, &len);
        FUZZ_CHECK(r == 0, "a decoded request does not encode: %s", strerror(-r));
        ProtoExec y;
        r = proto_exec_decode(buf, len, &y);
        FUZZ_CHECK(r == 0, "an encoded request does not decode: %s", strerror(-r));
        bool same = x->argc == y.argc && x->envc == y.envc && same_str(x->cwd, y.cwd) &&
                    x->timeout_ms == y.timeout_ms && x->stdout_cap == y.stdout_cap &&
                    x->stderr_cap == y.stderr_cap && !x->code == !y.code &&
                    x->code_len == y.code_len && same_str(x->code_name, y.code_name) &&
                    (!x->code || !memcmp(x->code, y.code, x->code_len));
        for (uint32_t i = 0; same && i < x->argc; i++)
                same = !strcmp(x->argv[i], y.argv[i]);
        for (uint32_t i = 0; same && i < x->envc; i++)
                same = !strcmp(x->env[i], y.env[i]);
        proto_exec_clear(&y);
        FUZZ_CHECK(same, "decode(encode(request)) differs from the request");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ProtoExec x;
        if (proto_exec_decode(data, size, &x) < 0)
                return 0;
        check_request(data, size, &x);
        check_env(&x);
        check_roundtrip(&x);
        proto_exec_clear(&x);
        return 0;
}
