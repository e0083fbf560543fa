/* test-api-utf8.c — the UTF-8 sanitizer: valid text passes unchanged, every maximal
 * ill-formed subpart becomes one U+FFFD, NUL bytes survive, output is always valid. */
#include <stdint.h>

#include "../test.h"
#include "api/utf8.h"
#include "shared/cleanup.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void check_one(const char *in, size_t len, const char *want, size_t want_len,
                      size_t want_repl, int line)
{
        _cleanup_free_ char *out = NULL;
        size_t n = 0, repl = 0;
        CHECK_EQ_INT(utf8_sanitize((const uint8_t *)in, len, &out, &n, &repl), 0);
        if (!out)
                return;
        if (n != want_len || memcmp(out, want, n) != 0 || repl != want_repl)
                fprintf(stderr, "line %d: sanitize mismatch (got %zu bytes, %zu repl)\n", line,
                        n, repl);
        CHECK_EQ_INT(n, want_len);
        CHECK(memcmp(out, want, MIN(n, want_len)) == 0);
        CHECK_EQ_INT(repl, want_repl);
        CHECK(utf8_valid((const uint8_t *)out, n));
        CHECK_EQ_INT(out[n], 0);
}

#define T(in, want, repl) check_one(in, sizeof(in) - 1, want, sizeof(want) - 1, repl, __LINE__)

static void test_valid(void)
{
        T("", "", 0);
        T("hello\n", "hello\n", 0);
        T("caf\xC3\xA9", "caf\xC3\xA9", 0);                           /* é */
        T("\xE2\x82\xAC", "\xE2\x82\xAC", 0);                         /* € */
        T("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80", 0);                 /* 😀 */
        T("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF", 0);                 /* U+10FFFF */
        T("\xED\x9F\xBF", "\xED\x9F\xBF", 0);                         /* U+D7FF */
        T("\xEE\x80\x80", "\xEE\x80\x80", 0);                         /* U+E000 */
        T("a\0b", "a\0b", 0);                                         /* NUL kept */
        T("\0\0", "\0\0", 0);
}

static void test_invalid(void)
{
        /* overlong encodings */
        T("\xC0\xAF", R R, 2);            /* C0 is never a lead: each byte alone */
        T("\xC1\xBF", R R, 2);
        T("\xE0\x80\xAF", R R R, 3);      /* E0 80: 80 is outside A0..BF */
        T("\xF0\x80\x80\xAF", R R R R, 4);
        T("\xE0\x9F\xBF", R R R, 3);
        /* surrogates */
        T("\xED\xA0\x80", R R R, 3);      /* U+D800 */
        T("\xED\xBF\xBF", R R R, 3);      /* U+DFFF */
        T("\xED\xA0\x80\xED\xB0\x80", R R R R R R, 6); /* a CESU-8 pair */
        /* beyond U+10FFFF and impossible bytes */
        T("\xF4\x90\x80\x80", R R R R, 4);
        T("\xF5\x80\x80\x80", R R R R, 4);
        T("\xFE\xFF", R R, 2);
        /* lone continuation bytes */
        T("\x80", R, 1);
        T("a\xBFz", "a" R "z", 1);
        /* truncated sequences: the maximal subpart is ONE replacement */
        T("\xC3", R, 1);
        T("\xE2\x82", R, 1);
        T("\xF0\x9F\x98", R, 1);
        T("\xF0\x9F\x98x", R "x", 1);
        T("\xE2\x82\xE2\x82\xAC", R "\xE2\x82\xAC", 1);
        T("ab\xE2", "ab" R, 1);
        /* NUL right after a lead byte ends the sequence and is kept */
        T("\xC3\0", R "\0", 1);
        T("\xF0\x9F\0\x98", R "\0" R, 2);
}

static void test_valid_fn(void)
{
        CHECK(utf8_valid((const uint8_t *)"ok\xC3\xA9", 4));
        CHECK(!utf8_valid((const uint8_t *)"\xC3", 1));
        CHECK(!utf8_valid((const uint8_t *)"\xED\xA0\x80", 3));
        CHECK(utf8_valid((const uint8_t *)"", 0));
}

/* Every 1- and 2-byte input, and random 3..6-byte inputs, come out valid. */
static void test_exhaustive(void)
{
        unsigned bad = 0;
        for (unsigned a = 0; a < 256; a++)
                for (unsigned b = 0; b < 256; b++) {
                        uint8_t in[2] = {(uint8_t)a, (uint8_t)b};
                        char *out = NULL;
                        size_t n;
                        if (utf8_sanitize(in, 2, &out, &n, NULL) < 0 ||
                            !utf8_valid((uint8_t *)out, n))
                                bad++;
                        free(out);
                }
        uint32_t x = 12345;
        for (int i = 0; i < 200000; i++) {
                uint8_t in[6];
                size_t len = 3 + (size_t)(i % 4);
                for (size_t k = 0; k < len; k++) {
                        x = x * 1103515245u + 12345u;
                        in[k] = (uint8_t)(x >> 16);
                        if (k % 2)
                                in[k] = (uint8_t)(0x80 | (in[k] & 0x3F)); /* many continuations */
                }
                char *out = NULL;
                size_t n;
                if (utf8_sanitize(in, len, &out, &n, NULL) < 0 || !utf8_valid((uint8_t *)out, n) ||
                    n > 3 * len)
                        bad++;
                free(out);
        }
        CHECK_EQ_INT(bad, 0);
}

TEST_MAIN({
        test_valid();
        test_invalid();
        test_valid_fn();
        test_exhaustive();
})
