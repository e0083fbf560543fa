/* fields.c — see fields.h. The texts follow serde / serde_json (de::Error::invalid_type,
 * invalid_value, unknown_field, unknown_variant, missing_field) so a Firecracker client reads
 * the same faults; positions ("at line 1 column 9") are only given for syntax errors. */
#include "fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../shared/cleanup.h"

static uint32_t *present_of(const Schema *s, const void *obj)
{
        return (uint32_t *)((char *)obj + s->present_offset);
}

bool fields_has(const Schema *s, const void *obj, unsigned idx)
{
        return idx < s->n_fields && (*present_of(s, obj) & (1u << idx));
}

void fields_set_has(const Schema *s, void *obj, unsigned idx, bool on)
{
        if (idx >= s->n_fields)
                return;
        if (on)
                *present_of(s, obj) |= 1u << idx;
        else
                *present_of(s, obj) &= ~(1u << idx);
}

static void *slot(const Field *f, const void *obj) { return (char *)obj + f->offset; }

void fields_one_of(const char *const *names, size_t n, char *out, size_t out_size)
{
        size_t off = 0;
        if (out_size == 0)
                return;
        out[0] = 0;
        if (n == 0) {
                snprintf(out, out_size, "there are no fields");
                return;
        }
        off += (size_t)snprintf(out, out_size, n > 2 ? "expected one of" : "expected");
        for (size_t i = 0; i < n && off < out_size; i++) {
                const char *sep = i == 0 ? " " : (n == 2 ? " or " : ", ");
                off += (size_t)snprintf(out + off, out_size - off, "%s`%s`", sep, names[i]);
        }
}

/* serde's Unexpected: how a JSON value is named in "invalid type: X, expected Y". */
static void describe_unexpected(const json_t *v, char *out, size_t n)
{
        static const char *const plain[] = {
                [JSON_OBJECT] = "map", [JSON_ARRAY] = "sequence", [JSON_NULL] = "null",
                [JSON_TRUE] = "boolean `true`", [JSON_FALSE] = "boolean `false`",
        };
        if (json_is_integer(v))
                snprintf(out, n, "integer `%" JSON_INTEGER_FORMAT "`", json_integer_value(v));
        else if (json_is_real(v))
                snprintf(out, n, "floating point `%g`", json_real_value(v));
        else if (json_is_string(v))
                snprintf(out, n, "string \"%.200s\"", json_string_value(v));
        else
                snprintf(out, n, "%s", plain[json_typeof(v)]);
}

static void describe_expected(const Field *f, char *out, size_t n)
{
        static const char *const by_type[] = {
                [FIELD_STRING] = "a string",
                [FIELD_BOOL] = "a boolean",
                [FIELD_ENUM] = "variant identifier",
        };
        if (f->type == FIELD_UINT)
                snprintf(out, n, "%s", f->uint_name);
        else if (f->type == FIELD_OBJECT)
                snprintf(out, n, "struct %s", f->sub->name);
        else
                snprintf(out, n, "%s", by_type[f->type]);
}

static int type_error(const Field *f, const json_t *v, Err *e)
{
        char got[256], want[128];
        describe_unexpected(v, got, sizeof(got));
        describe_expected(f, want, sizeof(want));
        return err_set(e, EINVAL, "invalid type: %s, expected %s", got, want);
}

static int decode_string(const Field *f, const json_t *v, void *dst, Err *e)
{
        if (!json_is_string(v))
                return type_error(f, v, e);
        char *s = strdup(json_string_value(v));
        if (!s)
                return err_set(e, ENOMEM, "out of memory");
        free(*(char **)dst);
        *(char **)dst = s;
        return 1;
}

static int decode_bool(const Field *f, const json_t *v, void *dst, Err *e)
{
        if (!json_is_boolean(v))
                return type_error(f, v, e);
        *(bool *)dst = json_is_true(v);
        return 1;
}

static int decode_uint(const Field *f, const json_t *v, void *dst, Err *e)
{
        if (!json_is_integer(v))
                return type_error(f, v, e);
        json_int_t n = json_integer_value(v);
        if (n < 0 || (uint64_t)n > f->uint_max)
                return err_set(e, EINVAL, "invalid value: integer `%" JSON_INTEGER_FORMAT
                               "`, expected %s", n, f->uint_name);
        *(uint64_t *)dst = (uint64_t)n;
        return 1;
}

static int decode_enum(const Field *f, const json_t *v, void *dst, Err *e)
{
        if (!json_is_string(v))
                return type_error(f, v, e);
        const char *s = json_string_value(v);
        size_t n = 0;
        for (; f->values[n]; n++) {
                bool eq = (f->flags & FIELD_ICASE) ? !strcasecmp(s, f->values[n]) : !strcmp(s, f->values[n]);
                if (eq) {
                        *(int *)dst = (int)n;
                        return 1;
                }
        }
        if (f->enum_fault)
                return err_set(e, EINVAL, "%s", f->enum_fault);
        char list[512];
        fields_one_of(f->values, n, list, sizeof(list));
        return err_set(e, EINVAL, "unknown variant `%.200s`, %s", s, list);
}

static int decode_object(const Field *f, const json_t *v, void *dst, Err *e)
{
        int r = fields_decode(f->sub, v, dst, e);
        return r < 0 ? r : 1;
}

typedef int (*DecodeFn)(const Field *f, const json_t *v, void *dst, Err *e);
static const DecodeFn decoders[] = {
        [FIELD_STRING] = decode_string, [FIELD_BOOL] = decode_bool, [FIELD_UINT] = decode_uint,
        [FIELD_ENUM] = decode_enum,     [FIELD_OBJECT] = decode_object,
};

/* 1 = stored, 0 = null given for an Option (absent), <0 = fault. */
static int decode_field(const Field *f, const json_t *v, void *obj, Err *e)
{
        if (json_is_null(v) && (f->flags & FIELD_NULLABLE))
                return 0;
        return decoders[f->type](f, v, slot(f, obj), e);
}

static int find_field(const Schema *s, const char *key)
{
        for (unsigned i = 0; i < s->n_fields; i++)
                if (!strcmp(s->fields[i].name, key))
                        return (int)i;
        return -1;
}

static int unknown_field(const Schema *s, const char *key, Err *e)
{
        const char *names[FIELDS_MAX];
        char list[768];
        for (unsigned i = 0; i < s->n_fields; i++)
                names[i] = s->fields[i].name;
        fields_one_of(names, s->n_fields, list, sizeof(list));
        return err_set(e, EINVAL, "unknown field `%.200s`, %s", key, list);
}

static int check_required(const Schema *s, const void *obj, Err *e)
{
        for (unsigned i = 0; i < s->n_fields; i++)
                if ((s->fields[i].flags & FIELD_REQUIRED) && !fields_has(s, obj, i))
                        return err_set(e, EINVAL, "missing field `%s`", s->fields[i].name);
        return 0;
}

int fields_decode(const Schema *s, const json_t *v, void *obj, Err *e)
{
        memset(obj, 0, s->size);
        if (!json_is_object(v)) {
                char got[256];
                describe_unexpected(v, got, sizeof(got));
                return err_set(e, EINVAL, "invalid type: %s, expected struct %s", got, s->name);
        }
        const char *key;
        json_t *val;
        int r = 0;
        /* serde walks the map in document order: the first bad key is the one reported */
        json_object_foreach((json_t *)v, key, val) {
                int idx = find_field(s, key);
                if (idx < 0 && !s->strict)
                        continue;
                r = idx < 0 ? unknown_field(s, key, e) : decode_field(&s->fields[idx], val, obj, e);
                if (r < 0)
                        break;
                fields_set_has(s, obj, (unsigned)idx, r > 0);
        }
        if (r >= 0)
                r = check_required(s, obj, e);
        if (r < 0) {
                fields_free(s, obj);
                return r;
        }
        return 0;
}

int fields_decode_body(const Schema *s, const char *body, size_t len, void *obj, Err *e)
{
        json_error_t jerr;
        json_t *v = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
                memset(obj, 0, s->size);
                return err_set(e, EINVAL, "%s at line %d column %d", jerr.text, jerr.line,
                               jerr.column);
        }
        int r = fields_decode(s, v, obj, e);
        json_decref(v);
        return r;
}

int fields_check_ranges(const Schema *s, const void *obj, Err *e)
{
        for (unsigned i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                if (!fields_has(s, obj, i))
                        continue;
                if (f->type == FIELD_OBJECT) {
                        int r = fields_check_ranges(f->sub, slot(f, obj), e);
                        if (r < 0)
                                return r;
                }
                if (f->type != FIELD_UINT || !f->range_fault)
                        continue;
                uint64_t v = *(const uint64_t *)slot(f, obj);
                if (v < f->min || v > f->max)
                        return err_set(e, EINVAL, "%s", f->range_fault);
        }
        return 0;
}

void fields_free(const Schema *s, void *obj)
{
        if (!obj)
                return;
        for (unsigned i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                if (f->type == FIELD_STRING)
                        free(*(char **)slot(f, obj));
                else if (f->type == FIELD_OBJECT)
                        fields_free(f->sub, slot(f, obj));
        }
        memset(obj, 0, s->size);
}

static json_t *render_value(const Field *f, const void *obj)
{
        const void *p = slot(f, obj);
        switch (f->type) {
        case FIELD_STRING: return json_string(*(char *const *)p ? *(char *const *)p : "");
        case FIELD_BOOL: return json_boolean(*(const bool *)p);
        case FIELD_UINT: return json_integer((json_int_t) * (const uint64_t *)p);
        case FIELD_ENUM: return json_string(f->values[*(const int *)p]);
        case FIELD_OBJECT: return fields_render(f->sub, p);
        }
        return NULL;
}

json_t *fields_render(const Schema *s, const void *obj)
{
        json_t *o = json_object();
        for (unsigned i = 0; o && i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                json_t *v;
                if (!fields_has(s, obj, i) && (f->flags & FIELD_NULLABLE)) {
                        if (f->flags & FIELD_SKIP_NULL)
                                continue;
                        v = json_null();
                } else {
                        v = render_value(f, obj);
                }
                if (!v || json_object_set_new(o, f->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}
