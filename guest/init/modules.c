/* modules.c — see modules.h. The file comes from our own initramfs, but a typo there must
 * still fail with a line number rather than load something unexpected. */
#include "modules.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static char *trim(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

static bool name_ok(const char *s)
{
        if (s[0] == '/' || strlen(s) > MODULES_NAME_MAX)
                return false;
        for (const char *p = s; p;) {
                if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == 0))
                        return false;
                p = strchr(p, '/');
                if (p)
                        p++;
        }
        return true;
}

int modules_order_parse(char *text, const char **names, size_t max, size_t *ret_n, Err *e)
{
        size_t n = 0;
        unsigned lineno = 0;
        for (char *line = text; line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                lineno++;
                char *s = trim(line);
                line = nl ? nl + 1 : NULL;
                if (*s == 0 || *s == '#')
                        continue;
                if (!name_ok(s))
                        return err_set(e, EINVAL, "modules.order line %u: bad name '%.64s'", lineno, s);
                if (n >= max)
                        return err_set(e, E2BIG, "modules.order: more than %zu modules", max);
                names[n++] = s;
        }
        *ret_n = n;
        return 0;
}
