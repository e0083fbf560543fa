/* fields.h — strict, table-driven decoding of JSON request bodies into C structs, with the
 * fault texts Firecracker's serde structs produce ("unknown field `x`, expected one of ...",
 * "missing field `x`", "invalid type: string \"a\", expected u8"). One Schema row per field:
 * name, type, required/nullable, where it is stored, semantic range. Knows nothing of HTTP,
 * of the VM or of files; never logs. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/err.h"

typedef enum FieldType {
        FIELD_STRING, /* char * (malloc'd, freed by fields_free) */
        FIELD_BOOL,   /* bool */
        FIELD_UINT,   /* uint64_t, bounded on the wire by type_max */
        FIELD_ENUM,   /* int: index into values[] */
        FIELD_OBJECT, /* a nested struct described by sub */
} FieldType;

enum {
        FIELD_REQUIRED = 1u << 0,  /* absent -> "missing field" */
        FIELD_NULLABLE = 1u << 1,  /* Option<T>: null means absent */
        FIELD_ICASE = 1u << 2,     /* FIELD_ENUM: case-insensitive match */
        FIELD_SKIP_NULL = 1u << 3, /* render: omit when absent instead of null */
};

typedef struct Schema Schema;

typedef struct Field {
        const char *name;
        FieldType type;
        unsigned flags;
        size_t offset;
        /* FIELD_UINT: the wire type ("u8", "u32", "u64", "usize") and its largest value */
        const char *uint_name;
        uint64_t uint_max;
        /* FIELD_ENUM: NULL-terminated variant names; enum_fault, when set, replaces serde's
         * "unknown variant" text (custom deserializers such as the logger level's) */
        const char *const *values;
        const char *enum_fault;
        const Schema *sub; /* FIELD_OBJECT */
        /* FIELD_UINT: semantic range, checked by fields_check_ranges() (range_fault set = on) */
        uint64_t min, max;
        const char *range_fault;
} Field;

struct Schema {
        const char *name; /* serde's struct name, for "expected struct X" */
        size_t size;      /* sizeof the C struct */
        const Field *fields;
        unsigned n_fields; /* <= 32 */
        size_t present_offset; /* uint32_t: bit i set = fields[i] was given (and not null) */
        bool strict;           /* serde(deny_unknown_fields) */
};

#define FIELDS_MAX 32u

/* Decodes v into obj (zeroed first). On failure obj holds nothing to free and e carries the
 * serde-like text, e.g. "missing field `vcpu_count`". -EINVAL. */
int fields_decode(const Schema *s, const json_t *v, void *obj, Err *e);
/* Parses and decodes a body; JSON syntax errors carry jansson's text with line and column. */
int fields_decode_body(const Schema *s, const char *body, size_t len, void *obj, Err *e);
/* Checks the semantic ranges of the present FIELD_UINT fields, in table order; the fault is
 * the field's range_fault. -EINVAL. */
int fields_check_ranges(const Schema *s, const void *obj, Err *e);
/* Frees every string of obj (nested objects included) and zeroes it. */
void fields_free(const Schema *s, void *obj);

bool fields_has(const Schema *s, const void *obj, unsigned idx);
void fields_set_has(const Schema *s, void *obj, unsigned idx, bool on);

/* Renders obj the way serde serializes it: absent nullable fields are null (or omitted with
 * FIELD_SKIP_NULL), others carry their value. NULL on allocation failure. */
json_t *fields_render(const Schema *s, const void *obj);

/* serde's list of expected names: "expected `a`", "expected `a` or `b`",
 * "expected one of `a`, `b`, `c`". Writes into out (truncated). */
void fields_one_of(const char *const *names, size_t n, char *out, size_t out_size);
