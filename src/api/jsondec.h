/* jsondec.h — strict decoding of a JSON request body through a field table.
 * One row per field: name, kind, required, range, setter. Decoding rejects what is not in
 * the table; messages name the field. Knows no request type (those live in requests.c). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/err.h"

/* json_decrefp() comes with jansson >= 2.11 */
#define _cleanup_json_ _cleanup_(json_decrefp)

typedef enum JsonKind {
        JK_STRING,       /* string without NUL bytes, length in [min, max] */
        JK_BYTES,        /* string, NUL bytes allowed (code, stdin), length in [min, max] */
        JK_UINT,         /* integer in [min, max] */
        JK_STRING_ARRAY, /* array of [min, max] strings without NUL */
        JK_STRING_MAP,   /* object of [min, max] string values without NUL */
        _JK_MAX,
} JsonKind;

typedef struct JsonField {
        const char *name;
        JsonKind kind;
        bool required;
        uint64_t min, max;
        /* Stores the already type- and range-checked value into dst. */
        int (*set)(void *dst, json_t *value, Err *e);
} JsonField;

/* Parses body into an object: -EINVAL with code "invalid_json" (line/column) or
 * "invalid_body" (valid JSON that is not an object). Duplicate keys are rejected. */
int jsondec_parse_object(const char *body, size_t len, json_t **ret, Err *e);
/* Checks every member of obj against fields and calls the setters in table order.
 * -EINVAL with code "unknown_field" or "invalid_field" naming the field. */
int jsondec_object(json_t *obj, const JsonField *fields, size_t n_fields, void *dst, Err *e);
/* "<name> must be <what the row allows>" with code invalid_field; returns -EINVAL. */
int jsondec_field_error(const JsonField *f, Err *e);
/* Longest string a JK_STRING* element may have (an argv/env string: MAX_ARG_STRLEN). */
#define JSONDEC_MAX_ELEMENT (128u * 1024)
