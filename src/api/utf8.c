/* utf8.c — see utf8.h. A table of lead-byte ranges (RFC 3629 §4 "UTF8-octets" grammar)
 * gives how many continuation bytes follow and the allowed range of the FIRST one, which
 * is what excludes overlongs (E0, F0), surrogates (ED) and values past U+10FFFF (F4).
 * Must not allocate more than 3 bytes per input byte, nor read past len. */
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct LeadRange {
        uint8_t first, last; /* lead byte range */
        uint8_t need;        /* continuation bytes */
        uint8_t lo, hi;      /* range of the first continuation byte */
} LeadRange;

static const LeadRange lead_ranges[] = {
        {0xC2, 0xDF, 1, 0x80, 0xBF},
        {0xE0, 0xE0, 2, 0xA0, 0xBF}, /* no overlongs */
        {0xE1, 0xEC, 2, 0x80, 0xBF},
        {0xED, 0xED, 2, 0x80, 0x9F}, /* no surrogates U+D800..U+DFFF */
        {0xEE, 0xEF, 2, 0x80, 0xBF},
        {0xF0, 0xF0, 3, 0x90, 0xBF}, /* no overlongs */
        {0xF1, 0xF3, 3, 0x80, 0xBF},
        {0xF4, 0xF4, 3, 0x80, 0x8F}, /* nothing above U+10FFFF */
};

static const LeadRange *lead_find(uint8_t c)
{
        for (size_t i = 0; i < sizeof(lead_ranges) / sizeof(lead_ranges[0]); i++)
                if (c >= lead_ranges[i].first && c <= lead_ranges[i].last)
                        return &lead_ranges[i];
        return NULL;
}

/* Length of the sequence starting at s[0]: > 0 when well-formed, or -(length of the
 * maximal ill-formed subpart, >= 1) otherwise. s[0] must be >= 0x80. */
static long seq_len(const uint8_t *s, size_t left)
{
        const LeadRange *l = lead_find(s[0]);
        if (!l)
                return -1;
        size_t j = 1;
        for (unsigned k = 0; k < l->need; k++, j++) {
                uint8_t lo = k == 0 ? l->lo : 0x80, hi = k == 0 ? l->hi : 0xBF;
                if (j >= left || s[j] < lo || s[j] > hi)
                        return -(long)j;
        }
        return (long)j;
}

int utf8_valid(const uint8_t *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                long n = seq_len(s + i, len - i);
                if (n < 0)
                        return 0;
                i += (size_t)n;
        }
        return 1;
}

int utf8_sanitize(const uint8_t *s, size_t len, char **ret, size_t *ret_len, size_t *ret_replaced)
{
        static const char fffd[] = "\xEF\xBF\xBD";
        if (len > (SIZE_MAX - 1) / 3)
                return -ENOMEM;
        char *out = malloc(len * 3 + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0, replaced = 0;
        for (size_t i = 0; i < len;) {
                if (s[i] < 0x80) {
                        out[o++] = (char)s[i++];
                        continue;
                }
                long n = seq_len(s + i, len - i);
                if (n > 0) {
                        memcpy(out + o, s + i, (size_t)n);
                        o += (size_t)n;
                        i += (size_t)n;
                } else {
                        memcpy(out + o, fffd, 3);
                        o += 3;
                        i += (size_t)-n;
                        replaced++;
                }
        }
        out[o] = 0;
        *ret = out;
        *ret_len = o;
        if (ret_replaced)
                *ret_replaced = replaced;
        return 0;
}
