/* cmdline.c — see cmdline.h. One table row per ember.* key; each setter validates its
 * value completely before touching the config. */
#include "cmdline.h"

#include <errno.h>
#include <string.h>

#include "proto/limits.h"

void cmdline_defaults(InitConfig *c)
{
        *c = (InitConfig){
                .root = "/dev/vda",
                .rootfstype = "squashfs",
                .port = AGENT_DEFAULT_PORT,
                .overlay_size = 256ull << 20,
        };
}

bool cmdline_root_none(const InitConfig *c) { return strcmp(c->root, "none") == 0; }

int parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                unsigned d = (unsigned)(*s - '0');
                if (v > (max - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static const struct {
        char suffix;
        unsigned shift;
} size_suffixes[] = {
        {'k', 10}, {'K', 10}, {'m', 20}, {'M', 20}, {'g', 30}, {'G', 30},
};

int parse_size(const char *s, uint64_t *ret)
{
        char num[24];
        size_t n = s ? strlen(s) : 0;
        unsigned shift = 0;
        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, s, n + 1);
        for (size_t i = 0; i < ELEMENTSOF(size_suffixes); i++)
                if (num[n - 1] == size_suffixes[i].suffix) {
                        shift = size_suffixes[i].shift;
                        num[--n] = 0;
                        break;
                }
        uint64_t v;
        if (parse_uint(num, CMDLINE_MAX_SIZE >> shift, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = v << shift;
        return 0;
}

int parse_port(const char *s, uint32_t *ret)
{
        uint64_t v;
        if (parse_uint(s, 0xfffffffeu, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

static int set_root(InitConfig *c, const char *v)
{
        if (strcmp(v, "none") != 0 && (v[0] != '/' || strlen(v) >= sizeof(c->root)))
                return -EINVAL;
        strcpy(c->root, v);
        return 0;
}

static int set_rootfstype(InitConfig *c, const char *v)
{
        size_t n = strlen(v);
        if (n == 0 || n >= sizeof(c->rootfstype) || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
                return -EINVAL;
        strcpy(c->rootfstype, v);
        return 0;
}

static int set_port(InitConfig *c, const char *v) { return parse_port(v, &c->port); }
static int set_overlay_size(InitConfig *c, const char *v)
{
        int r = parse_size(v, &c->overlay_size);
        c->overlay_size_set |= r >= 0;
        return r;
}

static int set_debug(InitConfig *c, const char *v)
{
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                return -EINVAL;
        c->debug = v[0] == '1';
        return 0;
}

static const struct {
        const char *key;
        int (*set)(InitConfig *c, const char *value);
        const char *flag_value; /* the value of a bare "key" without '=', or NULL: malformed */
} keys[] = {
        {"ember.root", set_root, NULL},
        {"ember.rootfstype", set_rootfstype, NULL},
        {"ember.port", set_port, NULL},
        {"ember.overlay_size", set_overlay_size, NULL},
        {"ember.debug", set_debug, "1"},
};

static int apply_word(char *w, InitConfig *c, CmdlineNote note, void *userdata, Err *e)
{
        if (strncmp(w, "ember.", 6) != 0)
                return 0;
        char *eq = strchr(w, '=');
        if (eq)
                *eq = 0;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (strcmp(w, keys[i].key) != 0)
                        continue;
                const char *v = eq ? eq + 1 : keys[i].flag_value;
                if (!v)
                        return err_set(e, EINVAL, "%s: missing value", w);
                if (keys[i].set(c, v) < 0)
                        return err_set(e, EINVAL, "%s: bad value '%.64s'", w, v);
                return 0;
        }
        if (eq)
                *eq = '=';
        if (note)
                note(userdata, w);
        return 0;
}

/* Copies the next word of *p into out (quotes removed); returns its length, 0 at the end. */
static size_t next_word(const char **p, char *out)
{
        const char *s = *p;
        bool quoted = false;
        size_t n = 0;
        while (*s == ' ' || *s == '\t' || *s == '\n')
                s++;
        for (; *s; s++) {
                if (*s == '"') {
                        quoted = !quoted;
                        continue;
                }
                if (!quoted && (*s == ' ' || *s == '\t' || *s == '\n'))
                        break;
                out[n++] = *s;
        }
        out[n] = 0;
        *p = s;
        return n;
}

int cmdline_parse(const char *line, InitConfig *c, CmdlineNote note, void *userdata, Err *e)
{
        if (strlen(line) >= CMDLINE_MAX)
                return err_set(e, E2BIG, "command line longer than %u bytes", CMDLINE_MAX);
        char word[CMDLINE_MAX];
        const char *p = line;
        while (next_word(&p, word) > 0 || *p) {
                if (strcmp(word, "--") == 0)
                        break; /* the rest is init's argv, not kernel parameters */
                int r = apply_word(word, c, note, userdata, e);
                if (r < 0)
                        return r;
        }
        return 0;
}
