/* config.c — the option table: one row per setting gives its flag, its config-file key,
 * its kind, where it is stored, its range, its default and its help line. Parsing flags,
 * parsing the file and writing --help all walk that table; nothing else knows an option.
 * Must not start anything: this only fills a Config. */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/jsondec.h"
#include "api/listen.h"
#include "shared/log.h"
#include "shared/util.h"

typedef enum OptKind {
        OK_STRING, OK_UINT, OK_SIZE, OK_VMM, OK_LOG_LEVEL, OK_LISTEN, OK_PACKS, OK_BOOL,
        OK_CGROUP, OK_MODE, _OK_MAX
} OptKind;

typedef struct Option {
        const char *flag; /* without "--"; NULL = config file only */
        const char *key;  /* config file key; NULL = command line only */
        OptKind kind;
        size_t offset; /* into Config */
        unsigned long long min, max;
        const char *metavar;
        const char *def; /* default, parsed like a flag value; NULL = none or computed */
        const char *help;
} Option;

#define S(field) offsetof(Config, settings.field)
#define C(field) offsetof(Config, field)

static const char default_packs[] =
        "[{\"name\": \"python\", \"rootfs\": \"python.squashfs\", \"interpreter\": [\"python3\"],"
        "  \"code_file\": \"main.py\", \"vcpus\": 1, \"memory_mib\": 256,"
        "  \"description\": \"Python 3\"},"
        " {\"name\": \"shell\", \"rootfs\": \"shell.squashfs\", \"interpreter\": [\"sh\"],"
        "  \"code_file\": \"main.sh\", \"vcpus\": 1, \"memory_mib\": 128,"
        "  \"description\": \"POSIX shell (dash) with coreutils\"},"
        " {\"name\": \"node\", \"rootfs\": \"node.squashfs\", \"interpreter\": [\"node\"],"
        "  \"code_file\": \"main.js\", \"vcpus\": 1, \"memory_mib\": 512,"
        "  \"description\": \"Node.js\"}]";

static const Option options[] = {
        {"listen", "listen", OK_LISTEN, C(listen), 0, 0, "ADDR", NULL,
         "listen on unix:/path, HOST:PORT or [V6]:PORT (port 0 = any free port); repeatable; "
         "default: unix:<state-dir>/emberd.sock and 127.0.0.1:8080"},
        {"state-dir", "state_dir", OK_STRING, S(state_dir), 1, PATH_MAX, "DIR", "/var/lib/ember",
         "per-sandbox state lives under DIR/sandboxes"},
        {"images-dir", "images_dir", OK_STRING, S(images_dir), 1, PATH_MAX, "DIR",
         "/var/lib/ember/images", "where kernel, initrd and rootfs images are found"},
        {"vmm", "vmm", OK_VMM, S(vmm), 0, 0, "KIND", "auto",
         "auto|firecracker|qemu|process: which VMM serves the Firecracker API"},
        {"firecracker-bin", "firecracker_bin", OK_STRING, S(firecracker_bin), 1, PATH_MAX, "PATH",
         NULL, "the firecracker binary; default: firecracker found in PATH"},
        {"vmm-bin", "vmm_bin", OK_STRING, S(vmm_bin), 1, PATH_MAX, "PATH", NULL,
         "the compat VMM (qemu, process); default: ember-vmm next to emberd"},
        {"kernel", "kernel", OK_STRING, S(kernel), 1, PATH_MAX, "FILE", "vmlinux",
         "guest kernel (ELF vmlinux), relative to images-dir"},
        {"initrd", "initrd", OK_STRING, S(initrd), 1, PATH_MAX, "FILE", "initramfs.img",
         "guest initramfs holding emberd-init, relative to images-dir"},
        {"boot-args", "boot_args", OK_STRING, S(boot_args), 0, 2048, "ARGS", "",
         "extra kernel command line appended to ember's own"},
        {"max-sandboxes", "max_sandboxes", OK_UINT, S(max_sandboxes), 1, 100000, "N", "64",
         "sandboxes that may exist at once (more → 503)"},
        {"max-vcpus", "max_vcpus", OK_UINT, S(max_vcpus), 1, 32, "N", "4",
         "largest vcpus a client may ask for"},
        {"max-memory-mib", "max_memory_mib", OK_UINT, S(max_memory_mib), 32, 1048576, "MIB",
         "2048", "largest memory_mib a client may ask for"},
        {"default-ttl-s", "default_ttl_s", OK_UINT, S(default_ttl_s), 0, UINT_MAX, "S", "0",
         "TTL of a sandbox created without ttl_s (0 = none)"},
        {"max-ttl-s", "max_ttl_s", OK_UINT, S(max_ttl_s), 0, UINT_MAX, "S", "86400",
         "largest ttl_s a client may ask for (0 = no limit)"},
        {"agent-port", "agent_port", OK_UINT, S(agent_port), 1, UINT_MAX, "PORT", "52",
         "vsock port of the guest agent"},
        {"boot-timeout-ms", "boot_timeout_ms", OK_UINT, S(boot_timeout_ms), 100, 600000, "MS",
         "30000", "VMM start to agent readiness, before create fails with 502"},
        {"output-cap", "output_cap", OK_UINT, S(output_cap), 1024, 16u * 1024 * 1024, "BYTES",
         "1048576", "stdout and stderr kept per exec and stream (the rest is dropped)"},
        {"default-memory-limit-mib", "default_memory_limit_mib", OK_UINT,
         S(default_memory_limit_mib), 0, 1048576, "MIB", "0",
         "memory limit of an exec without memory_limit_mib (0 = none: the VM's memory)"},
        {"max-memory-limit-mib", "max_memory_limit_mib", OK_UINT, S(max_memory_limit_mib), 0,
         1048576, "MIB", "0", "largest memory_limit_mib a client may ask for (0 = the sandbox's)"},
        {"default-pids-limit", "default_pids_limit", OK_UINT, S(default_pids_limit), 0, 4194304,
         "N", "256", "processes and threads of an exec without pids_limit (0 = no limit)"},
        {"max-pids-limit", "max_pids_limit", OK_UINT, S(max_pids_limit), 0, 4194304, "N", "4096",
         "largest pids_limit a client may ask for (0 = no limit)"},
        {"max-body-bytes", "max_body_bytes", OK_SIZE, C(max_body_bytes), 1024, 256u << 20,
         "BYTES", "8388608", "largest request body (more → 413)"},
        {"token-file", "token_file", OK_STRING, C(token_file), 1, PATH_MAX, "FILE", NULL,
         "bearer token clients must send (Authorization: Bearer) on every TCP listener"},
        {"allow-insecure-tcp", "allow_insecure_tcp", OK_BOOL, C(allow_insecure_tcp), 0, 0, NULL,
         NULL, "let loopback TCP listeners go without the bearer token (never beyond loopback)"},
        {"socket-mode", "socket_mode", OK_MODE, C(socket_mode), 0, 0777, "MODE", "0660",
         "file mode of unix: listeners, octal (the access control of the Unix socket)"},
        {"socket-group", "socket_group", OK_STRING, C(socket_group), 1, 64, "GROUP", NULL,
         "group (name or gid) of unix: listeners; default: emberd's"},
        {"jailer-bin", "jailer_bin", OK_STRING, S(jailer_bin), 1, PATH_MAX, "PATH", "auto",
         "auto|none|PATH: start each VMM through a jailer (Firecracker's jailer, or "
         "ember-jailer for ember-vmm); auto = the one beside the VMM, when run as root"},
        {"jail-uid", "jail_uid", OK_UINT, S(jail_uid), 0, 4294967294u, "UID", "65534",
         "uid of a jailed VMM (the process engine stays root: docs/threat-model.md)"},
        {"jail-gid", "jail_gid", OK_UINT, S(jail_gid), 0, 4294967294u, "GID", "65534",
         "gid of a jailed VMM"},
        {"chroot-base", "chroot_base", OK_STRING, S(chroot_base), 1, 64, "DIR", NULL,
         "jails are DIR/<vmm binary>/<sandbox id>/root; default: <state-dir>/jail"},
        {"cgroup-version", "cgroup_version", OK_CGROUP, S(cgroup_version), 0, 0, "V", "auto",
         "auto|none|1|2: host cgroup of each VMM (auto: the hierarchy with cpu, memory, pids)"},
        {"parent-cgroup", "parent_cgroup", OK_STRING, S(parent_cgroup), 1, 255, "PATH", "ember",
         "VMM cgroups are <hierarchy>/PATH/<sandbox id>"},
        {"cgroup-cpu-pct", "cgroup_cpu_pct", OK_UINT, S(cgroup_cpu_pct), 0, 10000, "PCT", "100",
         "cpu.max per vcpu, in percent of one core (0 = no cpu limit)"},
        {"cgroup-memory-overhead-mib", "cgroup_memory_overhead_mib", OK_UINT,
         S(cgroup_mem_overhead_mib), 0, 65536, "MIB", "128",
         "memory.max = the sandbox's memory_mib + MIB (the VMM's own memory)"},
        {"cgroup-pids-max", "cgroup_pids_max", OK_UINT, S(cgroup_pids_max), 0, 4194304, "N",
         "1024", "pids.max of each VMM's cgroup (0 = no limit)"},
        {"no-seccomp", NULL, OK_BOOL, C(no_seccomp), 0, 0, NULL, NULL,
         "do not install emberd's seccomp filter (debugging only)"},
        {"log-level", "log_level", OK_LOG_LEVEL, C(log_level), 0, 0, "LEVEL", "info",
         "error|warn|info|debug"},
        {NULL, "language_packs", OK_PACKS, S(packs), 0, 0, NULL, default_packs,
         "array of {name, rootfs, interpreter: [argv...], code_file, vcpus, memory_mib, "
         "description}; replaces the built-in python, shell and node"},
        {"config", NULL, OK_STRING, C(config_file), 1, PATH_MAX, "FILE", NULL,
         "JSON object with any of the config keys below; flags override it"},
        {"help", NULL, OK_BOOL, C(help), 0, 0, NULL, NULL, "print this help and exit"},
        {"version", NULL, OK_BOOL, C(version), 0, 0, NULL, NULL, "print the version and exit"},
};

#undef S
#undef C

#define FIELD(c, o) ((void *)((char *)(c) + (o)->offset))

typedef struct KindOps {
        int (*text)(const Option *o, void *field, const char *s, Err *e);
        int (*json)(const Option *o, void *field, json_t *v, Err *e);
} KindOps;

typedef struct Name {
        const char *name;
        int value;
} Name;

static const Name vmm_names[] = {
        {"auto", VMM_AUTO}, {"firecracker", VMM_FIRECRACKER}, {"qemu", VMM_QEMU},
        {"process", VMM_PROCESS},
};
static const Name cgroup_names[] = {
        {"auto", -1}, {"none", 0}, {"1", 1}, {"2", 2},
};
static const Name level_names[] = {
        {"error", LOG_ERR}, {"warn", LOG_WARN}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

static const char *opt_name(const Option *o);

static int name_lookup(const Option *o, const Name *t, size_t n, const char *s, int *ret, Err *e)
{
        char known[128] = "";
        for (size_t i = 0; i < n; i++) {
                if (strcmp(t[i].name, s) == 0) {
                        *ret = t[i].value;
                        return 0;
                }
                size_t len = strlen(known);
                snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", t[i].name);
        }
        return err_set(e, EINVAL, "%s must be one of %s (got \"%.64s\")", opt_name(o), known, s);
}

static const char *opt_name(const Option *o) { return o->key ? o->key : o->flag; }

static int type_error(const Option *o, const char *what, Err *e)
{
        return err_set(e, EINVAL, "%s must be %s", opt_name(o), what);
}

/* ---- kinds ---- */

static int string_text(const Option *o, void *field, const char *s, Err *e)
{
        size_t n = strlen(s);
        if (n < o->min || n > o->max)
                return err_set(e, EINVAL, "%s must be %llu to %llu bytes long", opt_name(o),
                               o->min, o->max);
        char *d = strdup(s);
        if (!d)
                return err_set(e, ENOMEM, "out of memory");
        free(*(char **)field);
        *(char **)field = d;
        return 0;
}

static int string_json(const Option *o, void *field, json_t *v, Err *e)
{
        if (!json_is_string(v))
                return type_error(o, "a string", e);
        return string_text(o, field, json_string_value(v), e);
}

static int number_check(const Option *o, unsigned long long x, Err *e)
{
        if (x < o->min || x > o->max)
                return err_set(e, EINVAL, "%s must be an integer between %llu and %llu",
                               opt_name(o), o->min, o->max);
        return 0;
}

static int number_parse(const Option *o, const char *s, unsigned long long *ret, Err *e)
{
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (!*s || *s == '-' || *end || errno)
                return err_set(e, EINVAL, "%s must be an integer between %llu and %llu",
                               opt_name(o), o->min, o->max);
        *ret = x;
        return number_check(o, x, e);
}

static int number_json(const Option *o, json_t *v, unsigned long long *ret, Err *e)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return err_set(e, EINVAL, "%s must be an integer between %llu and %llu",
                               opt_name(o), o->min, o->max);
        *ret = (unsigned long long)json_integer_value(v);
        return number_check(o, *ret, e);
}

static int uint_text(const Option *o, void *field, const char *s, Err *e)
{
        unsigned long long x;
        int r = number_parse(o, s, &x, e);
        if (r >= 0)
                *(unsigned *)field = (unsigned)x;
        return r;
}

static int uint_json(const Option *o, void *field, json_t *v, Err *e)
{
        unsigned long long x;
        int r = number_json(o, v, &x, e);
        if (r >= 0)
                *(unsigned *)field = (unsigned)x;
        return r;
}

static int size_text(const Option *o, void *field, const char *s, Err *e)
{
        unsigned long long x;
        int r = number_parse(o, s, &x, e);
        if (r >= 0)
                *(size_t *)field = (size_t)x;
        return r;
}

static int size_json(const Option *o, void *field, json_t *v, Err *e)
{
        unsigned long long x;
        int r = number_json(o, v, &x, e);
        if (r >= 0)
                *(size_t *)field = (size_t)x;
        return r;
}

static int vmm_text(const Option *o, void *field, const char *s, Err *e)
{
        int v = 0;
        int r = name_lookup(o, vmm_names, ELEMENTSOF(vmm_names), s, &v, e);
        if (r >= 0)
                *(VmmKind *)field = (VmmKind)v;
        return r;
}

static int cgroup_text(const Option *o, void *field, const char *s, Err *e)
{
        return name_lookup(o, cgroup_names, ELEMENTSOF(cgroup_names), s, (int *)field, e);
}

/* An octal file mode, "0660" or "660". */
static int mode_text(const Option *o, void *field, const char *s, Err *e)
{
        char *end;
        errno = 0;
        unsigned long m = strtoul(s, &end, 8);
        if (!*s || *end || errno || m > o->max || strspn(s, "01234567") != strlen(s))
                return err_set(e, EINVAL, "%s must be an octal mode between 0 and %llo",
                               opt_name(o), o->max);
        *(unsigned *)field = (unsigned)m;
        return 0;
}

static int level_text(const Option *o, void *field, const char *s, Err *e)
{
        return name_lookup(o, level_names, ELEMENTSOF(level_names), s, (int *)field, e);
}

static int enum_json(const Option *o, void *field, json_t *v, Err *e);

static int strv_add(char ***v, size_t *n, const char *s)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(s)))
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* The field is Config.listen; the count sits right after it (Config.n_listen). */
static int listen_text(const Option *o, void *field, const char *s, Err *e)
{
        Config *c = (Config *)((char *)field - offsetof(Config, listen));
        if (!*s)
                return err_set(e, EINVAL, "listen addresses must not be empty");
        return strv_add(&c->listen, &c->n_listen, s) < 0 ? err_set(e, ENOMEM, "out of memory")
                                                          : 0;
}

static void listen_clear(Config *c)
{
        strv_free(c->listen);
        c->listen = NULL;
        c->n_listen = 0;
}

static int listen_json(const Option *o, void *field, json_t *v, Err *e)
{
        Config *c = (Config *)((char *)field - offsetof(Config, listen));
        if (!json_is_array(v) || json_array_size(v) > 64)
                return type_error(o, "an array of at most 64 address strings", e);
        listen_clear(c);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
                if (!json_is_string(x))
                        return type_error(o, "an array of address strings", e);
                int r = listen_text(o, field, json_string_value(x), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int bool_text(const Option *o, void *field, const char *s, Err *e)
{
        *(bool *)field = true;
        return 0;
}

static int bool_json(const Option *o, void *field, json_t *v, Err *e)
{
        if (!json_is_boolean(v))
                return type_error(o, "true or false", e);
        *(bool *)field = json_is_true(v);
        return 0;
}

static int packs_json(const Option *o, void *field, json_t *v, Err *e);

static int packs_text(const Option *o, void *field, const char *s, Err *e)
{
        json_error_t je;
        _cleanup_json_ json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &je);
        if (!v)
                return err_set(e, EINVAL, "%s: invalid JSON: %s", opt_name(o), je.text);
        return packs_json(o, field, v, e);
}

static const KindOps kind_ops[_OK_MAX] = {
        [OK_STRING] = {string_text, string_json},
        [OK_UINT] = {uint_text, uint_json},
        [OK_SIZE] = {size_text, size_json},
        [OK_VMM] = {vmm_text, enum_json},
        [OK_LOG_LEVEL] = {level_text, enum_json},
        [OK_LISTEN] = {listen_text, listen_json},
        [OK_PACKS] = {packs_text, packs_json},
        [OK_BOOL] = {bool_text, bool_json},
        [OK_CGROUP] = {cgroup_text, enum_json},
        [OK_MODE] = {mode_text, enum_json},
};

static int enum_json(const Option *o, void *field, json_t *v, Err *e)
{
        if (!json_is_string(v))
                return type_error(o, "a string", e);
        return kind_ops[o->kind].text(o, field, json_string_value(v), e);
}

/* ---- language packs: a JSON field table per pack ---- */

static void pack_free(Pack *p)
{
        free(p->name);
        free(p->rootfs);
        strv_free(p->interpreter);
        free(p->code_file);
        free(p->description);
        *p = (Pack){0};
}

static void packs_free(Pack *packs, size_t n)
{
        for (size_t i = 0; packs && i < n; i++)
                pack_free(&packs[i]);
        free(packs);
}

static int pack_dup(char **dst, json_t *v, Err *e)
{
        free(*dst);
        *dst = strdup(json_string_value(v));
        return *dst ? 0 : err_set(e, ENOMEM, "out of memory");
}
static int set_pack_name(void *d, json_t *v, Err *e) { return pack_dup(&((Pack *)d)->name, v, e); }
static int set_pack_rootfs(void *d, json_t *v, Err *e) { return pack_dup(&((Pack *)d)->rootfs, v, e); }
static int set_pack_code_file(void *d, json_t *v, Err *e)
{
        if (strchr(json_string_value(v), '/'))
                return err_set(e, EINVAL, "code_file must be a file name, not a path");
        return pack_dup(&((Pack *)d)->code_file, v, e);
}
static int set_pack_description(void *d, json_t *v, Err *e)
{
        return pack_dup(&((Pack *)d)->description, v, e);
}
static int set_pack_vcpus(void *d, json_t *v, Err *e)
{
        ((Pack *)d)->vcpus = (unsigned)json_integer_value(v);
        return 0;
}
static int set_pack_memory(void *d, json_t *v, Err *e)
{
        ((Pack *)d)->memory_mib = (unsigned)json_integer_value(v);
        return 0;
}
static int set_pack_interpreter(void *d, json_t *v, Err *e)
{
        Pack *p = d;
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(v); i++)
                if (strv_add(&p->interpreter, &n, json_string_value(json_array_get(v, i))) < 0)
                        return err_set(e, ENOMEM, "out of memory");
        return 0;
}

static const JsonField pack_fields[] = {
        {"name", JK_STRING, true, 1, 63, set_pack_name},
        {"rootfs", JK_STRING, true, 1, PATH_MAX, set_pack_rootfs},
        {"interpreter", JK_STRING_ARRAY, true, 1, 64, set_pack_interpreter},
        {"code_file", JK_STRING, true, 1, NAME_MAX, set_pack_code_file},
        {"vcpus", JK_UINT, false, 1, 32, set_pack_vcpus},
        {"memory_mib", JK_UINT, false, 32, 1048576, set_pack_memory},
        {"description", JK_STRING, false, 0, 1024, set_pack_description},
};

static int pack_decode(json_t *obj, Pack *p, size_t index, Err *e)
{
        *p = (Pack){.vcpus = 1, .memory_mib = 256};
        int r = json_is_object(obj) ? jsondec_object(obj, pack_fields, ELEMENTSOF(pack_fields), p, e)
                                    : err_set(e, EINVAL, "must be an object");
        if (r >= 0 && !p->description)
                r = (p->description = strdup("")) ? 0 : err_set(e, ENOMEM, "out of memory");
        if (r < 0)
                err_prefix(e, "language_packs[%zu]", index);
        return r;
}

/* The field is Settings.packs; the count is Settings.n_packs. */
static int packs_json(const Option *o, void *field, json_t *v, Err *e)
{
        Settings *s = (Settings *)((char *)field - offsetof(Settings, packs));
        if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 64)
                return type_error(o, "an array of 1 to 64 language pack objects", e);
        size_t n = json_array_size(v);
        Pack *packs = calloc(n, sizeof(Pack));
        if (!packs)
                return err_set(e, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                int r = pack_decode(json_array_get(v, i), &packs[i], i, e);
                for (size_t j = 0; r >= 0 && j < i; j++)
                        if (strcmp(packs[j].name, packs[i].name) == 0)
                                r = err_set(e, EINVAL, "language_packs: \"%s\" appears twice",
                                            packs[i].name);
                if (r < 0) {
                        packs_free(packs, i + 1);
                        return r;
                }
        }
        packs_free(s->packs, s->n_packs);
        s->packs = packs;
        s->n_packs = n;
        return 0;
}

/* ---- the three sources ---- */

static const Option *option_by(bool by_flag, const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                const char *n = by_flag ? options[i].flag : options[i].key;
                if (n && strlen(n) == len && strncmp(n, name, len) == 0)
                        return &options[i];
        }
        return NULL;
}

static int option_text(Config *c, const Option *o, const char *value, Err *e)
{
        return kind_ops[o->kind].text(o, FIELD(c, o), value, e);
}

int config_init(Config *c, Err *e)
{
        *c = (Config){0};
        for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                if (!options[i].def)
                        continue;
                int r = option_text(c, &options[i], options[i].def, e);
                if (r < 0)
                        return err_prefix(e, "built-in default");
        }
        return 0;
}

int config_apply_json(Config *c, const char *text, size_t len, const char *name, Err *e)
{
        json_error_t je;
        _cleanup_json_ json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return err_set(e, EINVAL, "%s: invalid JSON at line %d, column %d: %s", name,
                               je.line, je.column, je.text);
        if (!json_is_object(root))
                return err_set(e, EINVAL, "%s: must be a JSON object", name);
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v) {
                const Option *o = option_by(false, k, strlen(k));
                if (!o)
                        return err_set(e, EINVAL, "%s: unknown key \"%.64s\" (emberd --help lists them)",
                                       name, k);
                int r = kind_ops[o->kind].json(o, FIELD(c, o), v, e);
                if (r < 0)
                        return err_prefix(e, "%s", name);
        }
        return 0;
}

typedef struct FlagArg {
        const Option *o;
        const char *value; /* NULL for OK_BOOL */
} FlagArg;

static int flag_value(const Option *o, const char *eq, int argc, char **argv, int *i,
                      const char **ret, Err *e)
{
        *ret = NULL;
        if (o->kind == OK_BOOL)
                return eq ? err_set(e, EINVAL, "--%s takes no value", o->flag) : 0;
        if (eq)
                *ret = eq + 1;
        else if (*i + 1 < argc)
                *ret = argv[++*i];
        else
                return err_set(e, EINVAL, "--%s needs a value (%s)", o->flag, o->metavar);
        return 0;
}

static int flags_scan(int argc, char **argv, FlagArg *out, size_t *ret_n, Err *e)
{
        size_t n = 0;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strncmp(a, "--", 2) != 0 || !a[2])
                        return err_set(e, EINVAL, "unexpected argument \"%.64s\" (see --help)", a);
                const char *name = a + 2, *eq = strchr(name, '=');
                size_t len = eq ? (size_t)(eq - name) : strlen(name);
                const Option *o = option_by(true, name, len);
                if (!o)
                        return err_set(e, EINVAL, "unknown option --%.*s (see --help)",
                                       (int)MIN(len, 64), name);
                out[n].o = o;
                int r = flag_value(o, eq, argc, argv, &i, &out[n].value, e);
                if (r < 0)
                        return r;
                n++;
        }
        *ret_n = n;
        return 0;
}

static int config_load_file(Config *c, const char *path, Err *e)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, CONFIG_FILE_MAX, &text, &len);
        if (r == -EFBIG)
                return err_set(e, EFBIG, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        if (r < 0)
                return err_set(e, -r, "%s: %s", path, strerror(-r));
        return config_apply_json(c, text, len, path, e);
}

int config_parse(Config *c, int argc, char **argv, Err *e)
{
        int r = config_init(c, e);
        if (r < 0)
                return r;
        _cleanup_free_ FlagArg *flags = calloc((size_t)MAX(argc, 1), sizeof(FlagArg));
        size_t n = 0;
        if (!flags)
                return err_set(e, ENOMEM, "out of memory");
        r = flags_scan(argc, argv, flags, &n, e);
        /* pass 1: what decides whether and what to load: --help, --version, --config */
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (flags[i].o->kind == OK_BOOL || flags[i].o->offset == offsetof(Config, config_file))
                        r = option_text(c, flags[i].o, flags[i].value, e);
        if (r < 0 || c->help || c->version)
                return r;
        if (c->config_file && (r = config_load_file(c, c->config_file, e)) < 0)
                return r;
        /* pass 2: every other flag overrides the file; --listen flags replace its list */
        bool listen_cleared = false;
        for (size_t i = 0; i < n; i++) {
                const Option *o = flags[i].o;
                /* booleans were applied in pass 1 too; again here, so they win over the file */
                if (o->offset == offsetof(Config, config_file))
                        continue;
                if (o->kind == OK_LISTEN && !listen_cleared) {
                        listen_clear(c);
                        listen_cleared = true;
                }
                if ((r = option_text(c, o, flags[i].value, e)) < 0)
                        return err_prefix(e, "--%s", o->flag);
        }
        return config_finish(c, e);
}

/* ---- computed defaults and cross-key checks ---- */

static char *find_in_path(const char *name)
{
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p;) {
                const char *end = strchrnul(p, ':');
                char *cand = NULL;
                if (end > p && asprintf(&cand, "%.*s/%s", (int)(end - p), p, name) >= 0) {
                        if (access(cand, X_OK) == 0)
                                return cand;
                        free(cand);
                }
                p = *end ? end + 1 : end;
        }
        return NULL;
}

static char *next_to_self(const char *name)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return strdup(name);
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
                *slash = 0;
        /* installed side by side, or the build tree (build/src/daemon -> build/src/compat) */
        const char *dirs[] = {"", "/../compat"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char *r = NULL;
                if (asprintf(&r, "%s%s/%s", exe, dirs[i], name) < 0)
                        return NULL;
                if (access(r, X_OK) == 0 || i + 1 == ELEMENTSOF(dirs))
                        return r;
                free(r);
        }
        return NULL;
}

static int finish_listen(Config *c, Err *e)
{
        /* TCP only when it can be protected: a token, or an explicit loopback exception */
        bool tcp = c->token_file || c->allow_insecure_tcp;
        if (c->n_listen == 0) {
                _cleanup_free_ char *sock = NULL;
                if (asprintf(&sock, "unix:%s/emberd.sock", c->settings.state_dir) < 0 ||
                    strv_add(&c->listen, &c->n_listen, sock) < 0 ||
                    (tcp && strv_add(&c->listen, &c->n_listen, "127.0.0.1:8080") < 0))
                        return err_set(e, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < c->n_listen; i++) {
                ListenAddr a;
                int r = listen_parse(c->listen[i], &a, e);
                if (r < 0)
                        return err_prefix(e, "listen");
                if (a.is_unix || c->token_file)
                        continue;
                if (!listen_is_local(&a))
                        return err_set(e, EINVAL,
                                       "listening on %s (not loopback) needs a bearer token "
                                       "(--token-file FILE)",
                                       c->listen[i]);
                if (!c->allow_insecure_tcp)
                        return err_set(e, EINVAL,
                                       "listening on %s needs a bearer token (--token-file FILE), "
                                       "or --allow-insecure-tcp to go without one on loopback",
                                       c->listen[i]);
        }
        return 0;
}

static int finish_bins(Settings *s, Err *e)
{
        /* not found stays the bare name: the manager's auto-detection then sees no
         * firecracker, and --vmm firecracker fails with a message naming it */
        if (!s->firecracker_bin && !(s->firecracker_bin = find_in_path("firecracker")) &&
            !(s->firecracker_bin = strdup("firecracker")))
                return err_set(e, ENOMEM, "out of memory");
        if (!s->vmm_bin && !(s->vmm_bin = next_to_self("ember-vmm")))
                return err_set(e, ENOMEM, "out of memory");
        /* a VMM is spawned in its own directory: a relative path would not resolve there */
        char **bins[] = {&s->firecracker_bin, &s->vmm_bin, &s->jailer_bin};
        for (size_t i = 0; i < ELEMENTSOF(bins); i++) {
                char *p = *bins[i];
                char *abs = p && p[0] != '/' && strchr(p, '/') ? realpath(p, NULL) : NULL;
                if (abs) {
                        free(p);
                        *bins[i] = abs;
                }
        }
        return 0;
}

static int finish_limits(const Settings *s, Err *e)
{
        for (size_t i = 0; i < s->n_packs; i++) {
                const Pack *p = &s->packs[i];
                if (p->vcpus > s->max_vcpus || p->memory_mib > s->max_memory_mib)
                        return err_set(e, EINVAL,
                                       "language pack \"%s\": %u vcpus, %u MiB exceed max_vcpus "
                                       "%u or max_memory_mib %u",
                                       p->name, p->vcpus, p->memory_mib, s->max_vcpus,
                                       s->max_memory_mib);
        }
        if (s->max_ttl_s && s->default_ttl_s > s->max_ttl_s)
                return err_set(e, EINVAL, "default_ttl_s %u exceeds max_ttl_s %u", s->default_ttl_s,
                               s->max_ttl_s);
        if (s->max_memory_limit_mib && s->default_memory_limit_mib > s->max_memory_limit_mib)
                return err_set(e, EINVAL, "default_memory_limit_mib %u exceeds max_memory_limit_mib %u",
                               s->default_memory_limit_mib, s->max_memory_limit_mib);
        if (s->max_pids_limit && s->default_pids_limit > s->max_pids_limit)
                return err_set(e, EINVAL, "default_pids_limit %u exceeds max_pids_limit %u",
                               s->default_pids_limit, s->max_pids_limit);
        return 0;
}

int config_finish(Config *c, Err *e)
{
        int r = finish_listen(c, e);
        if (r >= 0)
                r = finish_bins(&c->settings, e);
        if (r >= 0)
                r = finish_limits(&c->settings, e);
        return r;
}

void config_free(Config *c)
{
        Settings *s = &c->settings;
        free(s->state_dir);
        free(s->images_dir);
        free(s->firecracker_bin);
        free(s->vmm_bin);
        free(s->kernel);
        free(s->initrd);
        free(s->boot_args);
        free(s->jailer_bin);
        free(s->chroot_base);
        free(s->parent_cgroup);
        packs_free(s->packs, s->n_packs);
        listen_clear(c);
        free(c->token_file);
        free(c->socket_group);
        free(c->config_file);
        *c = (Config){0};
}

/* ---- --help, from the same table ---- */

static void help_option(FILE *f, const Option *o)
{
        char head[64];
        if (o->flag)
                snprintf(head, sizeof(head), "--%s%s%s", o->flag, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
        else
                snprintf(head, sizeof(head), "%s", o->key);
        fprintf(f, "  %-28s %s\n", head, o->help);
        if (o->key && o->flag)
                fprintf(f, "  %-28s config key: %s%s%s\n", "", o->key, o->def ? "; default: " : "",
                        o->def ? (*o->def ? o->def : "\"\"") : "");
        else if (o->def && o->kind != OK_PACKS)
                fprintf(f, "  %-28s default: %s\n", "", o->def);
}

static void help_packs(FILE *f)
{
        Config d;
        Err e = {0};
        if (config_init(&d, &e) >= 0)
                for (size_t i = 0; i < d.settings.n_packs; i++) {
                        const Pack *p = &d.settings.packs[i];
                        fprintf(f, "  %-28s %s: rootfs %s, runs %s %s, %u vcpu, %u MiB\n", "",
                                p->name, p->rootfs, p->interpreter[0], p->code_file, p->vcpus,
                                p->memory_mib);
                }
        config_free(&d);
}

void config_print_help(FILE *f, const char *argv0)
{
        fprintf(f,
                "Usage: %s [OPTION]...\n"
                "emberd: the ember code-execution sandbox service. Serves the HTTP/JSON API\n"
                "and runs each sandbox in a microVM driven through the Firecracker API.\n\n"
                "Options (a flag overrides --config FILE, which overrides the default):\n",
                argv0);
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (options[i].flag)
                        help_option(f, &options[i]);
        fprintf(f, "\nConfig file keys without a flag:\n");
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (!options[i].flag)
                        help_option(f, &options[i]);
        fprintf(f, "  %-28s built-in packs:\n", "");
        help_packs(f);
        fprintf(f, "\nSIGINT/SIGTERM: stop accepting, delete every sandbox, remove the Unix "
                   "sockets, exit 0.\n");
}
