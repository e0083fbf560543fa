/* utf8.h — turns arbitrary bytes (a guest's stdout/stderr) into valid UTF-8.
 * Every maximal ill-formed subpart becomes one U+FFFD (Unicode ch. 3, "U+FFFD substitution
 * of maximal subparts"); NUL bytes are kept (JSON encodes them as \u0000). Pure, no I/O. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Writes a NUL-terminated copy to *ret (malloc'd), its length (without the NUL) to
 * *ret_len, and how many replacements were made to *ret_replaced (may be NULL).
 * Returns 0 or -ENOMEM. The output is at most 3 * len + 1 bytes. */
int utf8_sanitize(const uint8_t *s, size_t len, char **ret, size_t *ret_len, size_t *ret_replaced);
/* true when s[0..len) is valid UTF-8 (no overlongs, surrogates or code points > U+10FFFF) */
int utf8_valid(const uint8_t *s, size_t len);
