/* args.c — see args.h. One table row per option; both "--opt value" and "--opt=value". */
#include "args.h"

#include <errno.h>
#include <string.h>

#include "cmdline.h"

int args_parse_dev(const char *s, InitDev *ret)
{
        InitDev d = {0};
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : 0;
        if (n == 0 || n >= sizeof(d.name) || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
                return -EINVAL;
        memcpy(d.name, s, n);
        const char *colon = strchr(eq + 1, ':');
        if (!colon || colon == eq + 1)
                return -EINVAL;
        char maj[16];
        size_t ml = (size_t)(colon - eq - 1);
        if (ml >= sizeof(maj))
                return -EINVAL;
        memcpy(maj, eq + 1, ml);
        maj[ml] = 0;
        uint64_t a, b;
        /* Linux dev_t: 12-bit major, 20-bit minor */
        if (parse_uint(maj, 4095, &a) < 0 || parse_uint(colon + 1, (1u << 20) - 1, &b) < 0)
                return -EINVAL;
        d.major = (unsigned)a;
        d.minor = (unsigned)b;
        *ret = d;
        return 0;
}

static int opt_process_engine(InitArgs *a, const char *v, Err *e)
{
        a->process_engine = true;
        return 0;
}

static int opt_cmdline(InitArgs *a, const char *v, Err *e)
{
        if (strlen(v) >= CMDLINE_MAX)
                return err_set(e, E2BIG, "--cmdline: longer than %u bytes", CMDLINE_MAX);
        a->cmdline = v;
        return 0;
}

static int opt_agent_fd(InitArgs *a, const char *v, Err *e)
{
        uint64_t fd;
        if (parse_uint(v, 65535, &fd) < 0 || fd < 3)
                return err_set(e, EINVAL, "--agent-fd: bad value '%.32s'", v);
        a->agent_fd = (int)fd;
        return 0;
}

static int opt_dev(InitArgs *a, const char *v, Err *e)
{
        if (a->n_devs >= ARGS_MAX_DEVS)
                return err_set(e, E2BIG, "--dev: more than %u devices", ARGS_MAX_DEVS);
        InitDev d;
        if (args_parse_dev(v, &d) < 0)
                return err_set(e, EINVAL, "--dev: bad value '%.64s' (want NAME=MAJOR:MINOR)", v);
        for (size_t i = 0; i < a->n_devs; i++)
                if (strcmp(a->devs[i].name, d.name) == 0)
                        return err_set(e, EINVAL, "--dev: '%s' given twice", d.name);
        a->devs[a->n_devs++] = d;
        return 0;
}

static const struct {
        const char *name;
        bool has_value;
        int (*set)(InitArgs *a, const char *v, Err *e);
} options[] = {
        {"--process-engine", false, opt_process_engine},
        {"--cmdline", true, opt_cmdline},
        {"--agent-fd", true, opt_agent_fd},
        {"--dev", true, opt_dev},
};

/* Finds the option of argv[*i] and its value; advances *i past a separate value. */
static int apply_option(int argc, char **argv, int *i, InitArgs *a, Err *e)
{
        const char *w = argv[*i];
        for (size_t k = 0; k < ELEMENTSOF(options); k++) {
                size_t n = strlen(options[k].name);
                if (strncmp(w, options[k].name, n) != 0 || (w[n] != 0 && w[n] != '='))
                        continue;
                const char *v = w[n] == '=' ? w + n + 1 : NULL;
                if (options[k].has_value && !v) {
                        if (*i + 1 >= argc)
                                return err_set(e, EINVAL, "%s: missing value", options[k].name);
                        v = argv[++*i];
                }
                if (!options[k].has_value && v)
                        return err_set(e, EINVAL, "%s takes no value", options[k].name);
                return options[k].set(a, v, e);
        }
        return err_set(e, EINVAL, "unknown argument '%.64s'", w);
}

int args_parse(int argc, char **argv, InitArgs *ret, Err *e)
{
        InitArgs a = {.agent_fd = -1};
        bool pe = false;
        for (int i = 1; i < argc; i++)
                pe |= strcmp(argv[i], "--process-engine") == 0;
        for (int i = 1; pe && i < argc; i++) {
                int r = apply_option(argc, argv, &i, &a, e);
                if (r < 0)
                        return r;
        }
        if (pe && !a.cmdline)
                return err_set(e, EINVAL, "--process-engine needs --cmdline");
        if (pe && a.agent_fd < 0)
                return err_set(e, EINVAL, "--process-engine needs --agent-fd");
        *ret = a;
        return 0;
}
