/* jsondec.c — see jsondec.h. The parse accepts NUL inside strings (JSON_ALLOW_NUL) so that
 * stdin and code may carry them; the kind table then rejects NUL everywhere else, which is
 * what keeps NUL out of argv, env and cwd. Must not trust sizes: every count is checked
 * against the row before anything is allocated by a setter. */
#include "jsondec.h"

#include <string.h>

#include "shared/cleanup.h"

typedef struct KindInfo {
        int (*check)(const JsonField *f, json_t *v, Err *e); /* type + range */
        const char *what;                                     /* for messages */
} KindInfo;

static bool has_nul(json_t *s) { return memchr(json_string_value(s), 0, json_string_length(s)); }

static int check_len(const JsonField *f, json_t *v, bool nul_ok, Err *e)
{
        if (!json_is_string(v))
                return jsondec_field_error(f, e);
        size_t n = json_string_length(v);
        if (n < f->min || n > f->max)
                return jsondec_field_error(f, e);
        if (!nul_ok && has_nul(v))
                return err_setc(e, EINVAL, "invalid_field", "%s must not contain NUL bytes",
                                f->name);
        return 0;
}

static int check_string(const JsonField *f, json_t *v, Err *e) { return check_len(f, v, false, e); }
static int check_bytes(const JsonField *f, json_t *v, Err *e) { return check_len(f, v, true, e); }

static int check_uint(const JsonField *f, json_t *v, Err *e)
{
        if (!json_is_integer(v))
                return jsondec_field_error(f, e);
        json_int_t x = json_integer_value(v);
        if (x < 0 || (uint64_t)x < f->min || (uint64_t)x > f->max)
                return jsondec_field_error(f, e);
        return 0;
}

/* An element of an array or a value of a map: a string without NUL, bounded. */
static int check_element(const JsonField *f, json_t *v, const char *where, Err *e)
{
        if (!json_is_string(v))
                return err_setc(e, EINVAL, "invalid_field", "%s must be a string", where);
        if (json_string_length(v) > JSONDEC_MAX_ELEMENT)
                return err_setc(e, EINVAL, "invalid_field", "%s must be at most %u bytes long",
                                where, JSONDEC_MAX_ELEMENT);
        if (has_nul(v))
                return err_setc(e, EINVAL, "invalid_field", "%s must not contain NUL bytes",
                                where);
        return 0;
}

static int check_array(const JsonField *f, json_t *v, Err *e)
{
        if (!json_is_array(v) || json_array_size(v) < f->min || json_array_size(v) > f->max)
                return jsondec_field_error(f, e);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
                char where[96];
                snprintf(where, sizeof(where), "%s[%zu]", f->name, i);
                int r = check_element(f, x, where, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_map(const JsonField *f, json_t *v, Err *e)
{
        if (!json_is_object(v) || json_object_size(v) < f->min || json_object_size(v) > f->max)
                return jsondec_field_error(f, e);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
                char where[128];
                snprintf(where, sizeof(where), "%s[\"%.64s\"]", f->name, k);
                int r = check_element(f, x, where, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const KindInfo kinds[_JK_MAX] = {
        [JK_STRING] = {check_string, "a string"},
        [JK_BYTES] = {check_bytes, "a string"},
        [JK_UINT] = {check_uint, "an integer"},
        [JK_STRING_ARRAY] = {check_array, "an array of strings"},
        [JK_STRING_MAP] = {check_map, "an object of strings"},
};

int jsondec_field_error(const JsonField *f, Err *e)
{
        const char *what = kinds[f->kind].what;
        const char *unit = f->kind == JK_UINT ? "" : f->kind == JK_STRING_MAP ? " entries"
                           : f->kind == JK_STRING_ARRAY                     ? " elements"
                                                                            : " bytes";
        if (f->kind == JK_UINT)
                return err_setc(e, EINVAL, "invalid_field",
                                "%s must be an integer between %llu and %llu", f->name,
                                (unsigned long long)f->min, (unsigned long long)f->max);
        if (f->min > 0)
                return err_setc(e, EINVAL, "invalid_field", "%s must be %s of %llu to %llu%s",
                                f->name, what, (unsigned long long)f->min,
                                (unsigned long long)f->max, unit);
        return err_setc(e, EINVAL, "invalid_field", "%s must be %s of at most %llu%s", f->name,
                        what, (unsigned long long)f->max, unit);
}

int jsondec_parse_object(const char *body, size_t len, json_t **ret, Err *e)
{
        json_error_t je;
        json_t *root = json_loadb(body ? body : "", len,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!root)
                return err_setc(e, EINVAL, "invalid_json", "invalid JSON at line %d, column %d: %s",
                                je.line, je.column, je.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return err_setc(e, EINVAL, "invalid_body", "request body must be a JSON object");
        }
        *ret = root;
        return 0;
}

static const JsonField *field_find(const JsonField *fields, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(fields[i].name, name) == 0)
                        return &fields[i];
        return NULL;
}

int jsondec_object(json_t *obj, const JsonField *fields, size_t n_fields, void *dst, Err *e)
{
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
                if (!field_find(fields, n_fields, k))
                        return err_setc(e, EINVAL, "unknown_field", "unknown field \"%.64s\"%s", k,
                                        strlen(k) > 64 ? " (truncated)" : "");
        }
        for (size_t i = 0; i < n_fields; i++) {
                const JsonField *f = &fields[i];
                json_t *x = json_object_get(obj, f->name);
                if (!x) { /* null is a wrong type, not an absent field */
                        if (f->required)
                                return err_setc(e, EINVAL, "invalid_field", "%s is required",
                                                f->name);
                        continue;
                }
                int r = kinds[f->kind].check(f, x, e);
                if (r < 0)
                        return r;
                r = f->set(dst, x, e);
                if (r < 0)
                        return r;
        }
        return 0;
}
