/* args.c — see args.h. Messages follow Firecracker's jailer and its argument parser, so a
 * caller written against one reads the other. */
#include "shared/util.h"
#include "args.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*ArgFn)(JailerArgs *a, const char *value, Err *e);

typedef struct JailerOption {
        const char *name;
        bool takes_value, repeatable, required;
        ArgFn set;
        const char *help;
} JailerOption;

static int parse_u32(const char *s, unsigned long long max, unsigned long long *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *s == '-' || *s == '+' || *end || errno || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int set_id(JailerArgs *a, const char *v, Err *e)
{
        if (!instance_id_valid(v))
                return err_set(e, EINVAL, "Invalid instance ID: %s", v);
        a->id = v;
        return 0;
}
static int set_exec(JailerArgs *a, const char *v, Err *e)
{
        a->exec_file = v;
        return 0;
}
static int set_uid(JailerArgs *a, const char *v, Err *e)
{
        unsigned long long x;
        if (parse_u32(v, UINT32_MAX - 1, &x) < 0)
                return err_set(e, EINVAL, "Invalid uid: %s", v);
        a->uid = (uid_t)x;
        return 0;
}
static int set_gid(JailerArgs *a, const char *v, Err *e)
{
        unsigned long long x;
        if (parse_u32(v, UINT32_MAX - 1, &x) < 0)
                return err_set(e, EINVAL, "Invalid gid: %s", v);
        a->gid = (gid_t)x;
        return 0;
}
static int set_base(JailerArgs *a, const char *v, Err *e)
{
        a->chroot_base = v;
        return 0;
}
static int set_netns(JailerArgs *a, const char *v, Err *e)
{
        a->netns = v;
        return 0;
}
static int set_daemonize(JailerArgs *a, const char *v, Err *e)
{
        a->daemonize = true;
        return 0;
}
static int set_new_pid_ns(JailerArgs *a, const char *v, Err *e)
{
        a->new_pid_ns = true;
        return 0;
}
static int set_cgroup(JailerArgs *a, const char *v, Err *e)
{
        if (a->n_cgroups == CGROUP_MAX_FILES)
                return err_set(e, EINVAL, "more than %d --cgroup arguments", CGROUP_MAX_FILES);
        int r = cgroup_setting_parse(v, &a->cgroups[a->n_cgroups], e);
        if (r >= 0)
                a->n_cgroups++;
        return r;
}
static int set_cgroup_version(JailerArgs *a, const char *v, Err *e)
{
        if (strcmp(v, "1") && strcmp(v, "2"))
                return err_set(e, EINVAL, "Invalid cgroup version: %s", v);
        a->cgroup_version = v[0] - '0';
        return 0;
}
static int set_parent_cgroup(JailerArgs *a, const char *v, Err *e)
{
        if (!cgroup_parent_valid(v))
                return err_set(e, EINVAL, "Parent cgroup path is invalid. Path should not be "
                               "absolute or contain '..' or '.'");
        a->parent_cgroup = v;
        return 0;
}

/* fsize=<bytes> | no-file=<n> (Firecracker's resource_limits.rs). */
static int set_rlimit(JailerArgs *a, const char *v, Err *e)
{
        const char *eq = strchr(v, '=');
        unsigned long long x;
        if (!eq)
                return err_set(e, EINVAL, "Invalid format for resource limits: %s", v);
        if (parse_u32(eq + 1, ULLONG_MAX, &x) < 0)
                return err_set(e, EINVAL, "Invalid limit value for resource: %s", v);
        size_t n = (size_t)(eq - v);
        if (n == 5 && !strncmp(v, "fsize", 5)) {
                a->fsize = x;
                a->fsize_set = true;
        } else if (n == 7 && !strncmp(v, "no-file", 7)) {
                a->nofile = x;
        } else {
                return err_set(e, EINVAL, "Invalid resource argument: %.*s", (int)n, v);
        }
        return 0;
}

static int set_bind_ro(JailerArgs *a, const char *v, Err *e)
{
        if (v[0] != '/' || strstr(v, "/../") || !strcmp(v, "/") ||
            (strlen(v) >= 3 && !strcmp(v + strlen(v) - 3, "/..")))
                return err_set(e, EINVAL, "--bind-ro needs an absolute path below /: %s", v);
        if (a->n_bind_ro == JAILER_MAX_BINDS)
                return err_set(e, EINVAL, "more than %d --bind-ro arguments", JAILER_MAX_BINDS);
        a->bind_ro[a->n_bind_ro++] = v;
        return 0;
}

static const struct {
        const char *name;
        unsigned bit;
} dev_names[] = {
        {"null", JAILER_DEV_NULL},
        {"zero", JAILER_DEV_ZERO},
        {"random", JAILER_DEV_RANDOM},
        {"loop", JAILER_DEV_LOOP},
};

static int set_extra_dev(JailerArgs *a, const char *v, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(dev_names); i++)
                if (!strcmp(v, dev_names[i].name)) {
                        a->devs |= dev_names[i].bit;
                        return 0;
                }
        return err_set(e, EINVAL, "--extra-dev: unknown device '%s' (null, zero, random, loop)", v);
}

static int set_help(JailerArgs *a, const char *v, Err *e)
{
        a->help = true;
        return 0;
}
static int set_version(JailerArgs *a, const char *v, Err *e)
{
        a->version = true;
        return 0;
}

#define VALUE(n, f, req, h) {n, true, false, req, f, h}
#define MULTI(n, f, h) {n, true, true, false, f, h}
#define FLAG(n, f, h) {n, false, false, false, f, h}

static const JailerOption options[] = {
        VALUE("id", set_id, true, "Jail ID (1-64 characters, alphanumeric or '-')."),
        VALUE("exec-file", set_exec, true, "File path to exec into."),
        VALUE("uid", set_uid, true, "The user identifier the jailer switches to after exec."),
        VALUE("gid", set_gid, true, "The group identifier the jailer switches to after exec."),
        VALUE("chroot-base-dir", set_base, false,
              "The base folder where chroot jails are located (default " JAILER_DEFAULT_CHROOT_BASE ")."),
        VALUE("netns", set_netns, false, "Path to the network namespace this microVM should join."),
        FLAG("daemonize", set_daemonize, "Daemonize the jailer before exec'ing into the exec file."),
        FLAG("new-pid-ns", set_new_pid_ns, "Exec into a new PID namespace."),
        MULTI("cgroup", set_cgroup, "Cgroup and value to be set by the jailer: <file>=<value>."),
        VALUE("cgroup-version", set_cgroup_version, false, "Cgroup version: 1 (default) or 2."),
        VALUE("parent-cgroup", set_parent_cgroup, false,
              "Parent cgroup, relative to the hierarchy root (default: the exec file's name)."),
        MULTI("resource-limit", set_rlimit, "Resource limit: fsize=<bytes> or no-file=<n>."),
        MULTI("bind-ro", set_bind_ro, "ember: bind a host path read-only at the same path."),
        MULTI("extra-dev", set_extra_dev, "ember: also create /dev/NAME (null, zero, random, loop)."),
        FLAG("version", set_version, "Print the binary version number."),
        FLAG("help", set_help, "Show this help."),
};


static const JailerOption *find_option(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
                        return &options[i];
        return NULL;
}

static int parse_one(int argc, char *const *argv, int *i, JailerArgs *a, Err *e)
{
        const char *arg = argv[*i];
        const char *name = arg + 2, *eq = strchr(name, '=');
        const JailerOption *o = strncmp(arg, "--", 2) ? NULL
                                : find_option(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!o)
                return err_set(e, EINVAL, "Found argument '%s' which wasn't expected, or isn't "
                               "valid in this context.", arg);
        unsigned bit = 1u << (o - options);
        if ((a->seen & bit) && !o->repeatable)
                return err_set(e, EINVAL, "The argument '%s' was provided more than once.", o->name);
        a->seen |= bit;
        if (!o->takes_value) {
                if (eq)
                        return err_set(e, EINVAL, "The argument '%s' does not take a value.", o->name);
                return o->set(a, NULL, e);
        }
        const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v || (!eq && !strncmp(v, "--", 2)))
                return err_set(e, EINVAL, "The argument '%s' requires a value, but none was "
                               "supplied.", o->name);
        return o->set(a, v, e);
}

static int check_required(const JailerArgs *a, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (options[i].required && !(a->seen & (1u << i)))
                        return err_set(e, EINVAL, "Missing argument: %s.", options[i].name);
        if (!jailer_exec_name(a->exec_file)[0])
                return err_set(e, EINVAL, "Failed to extract filename from path %s", a->exec_file);
        return 0;
}

int jailer_args_parse(int argc, char *const *argv, JailerArgs *a, Err *e)
{
        *a = (JailerArgs){.chroot_base = JAILER_DEFAULT_CHROOT_BASE, .cgroup_version = 1,
                          .nofile = JAILER_DEFAULT_NOFILE};
        int i = 1;
        for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
                int r = parse_one(argc, argv, &i, a, e);
                if (r < 0)
                        return r;
        }
        if (i < argc) {
                a->extra = argv + i + 1;
                a->n_extra = argc - i - 1;
        }
        if (a->help || a->version)
                return 0;
        return check_required(a, e);
}

const char *jailer_exec_name(const char *exec_file)
{
        if (!exec_file)
                return "";
        const char *slash = strrchr(exec_file, '/');
        return slash ? slash + 1 : exec_file;
}

int jailer_chroot_dir(const char *base, const char *exec_file, const char *id, char **ret)
{
        const char *name = jailer_exec_name(exec_file);
        if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
                return -EINVAL;
        size_t bl = strlen(base);
        while (bl > 1 && base[bl - 1] == '/')
                bl--;
        return asprintf(ret, "%.*s/%s/%s/root", (int)bl, base, name, id) < 0 ? -ENOMEM : 0;
}

void jailer_usage(void)
{
        printf("Usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [options] -- "
               "[exec file arguments]\n"
               "Jails a VMM the way Firecracker's jailer does: a chroot at\n"
               "<chroot-base-dir>/<exec file name>/<id>/root, cgroups, rlimits, new mount (and\n"
               "pid) namespaces, dropped uid/gid. Cleans up nothing: the caller removes the\n"
               "chroot and cgroup directories after the VMM exits.\n\n");
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                printf("  --%-16s %s %s\n", options[i].name, options[i].takes_value ? "VALUE" : "     ",
                       options[i].help);
}
