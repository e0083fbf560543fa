/* cli.c — see cli.h. Texts follow Firecracker's utils::arg_parser. */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "compat-limits.h"

typedef struct CliOption {
        const char *name;
        bool takes_value;
        size_t offset; /* const char * or bool in CliOptions */
        const char *help;
} CliOption;

#define VAL(n, field, h) {n, true, offsetof(CliOptions, field), h}
#define FLAG(n, field, h) {n, false, offsetof(CliOptions, field), h}

static const CliOption options[] = {
        VAL("api-sock", api_sock, "Path to unix domain socket used by the API (required)."),
        VAL("id", id, "MicroVM unique identifier (default: anonymous-instance)."),
        VAL("log-path", log_path, "Path to a fifo or a file used for the log."),
        VAL("level", level, "Set the logger level (Error, Warning, Info, Debug, Trace, Off)."),
        FLAG("boot-timer", boot_timer, "Accepted for compatibility; ignored."),
        /* a jailer passes these three (FACTS §5) */
        VAL("start-time-us", start_time_us, "Passed by a jailer; ignored."),
        VAL("start-time-cpu-us", start_time_cpu_us, "Passed by a jailer; ignored."),
        VAL("parent-cpu-time-us", parent_cpu_time_us, "Passed by a jailer; ignored."),
        FLAG("no-seccomp", no_seccomp, "Run without the seccomp filter (not for production)."),
        VAL("engine", engine, "How the guest runs: process (default) or qemu."),
        VAL("init", init, "emberd-init for the process engine."),
        VAL("qemu-bin", qemu_bin, "QEMU for the qemu engine (default: qemu-system-x86_64)."),
        VAL("accel", accel, "qemu engine: kvm, tcg or auto (default: the KVM probe decides)."),
        FLAG("probe-kvm", probe_kvm, "Print whether KVM runs a guest here (boots one), exit."),
        VAL("kernel", kernel, "--probe-kvm: guest kernel (default: $EMBER_IMAGES/vmlinux)."),
        VAL("initrd", initrd, "--probe-kvm: initramfs (default: $EMBER_IMAGES/initramfs.img)."),
        FLAG("version", version, "Print the binary version number."),
        FLAG("help", help, "Show this help."),
};

static const CliOption *find_option(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
                        return &options[i];
        return NULL;
}

static int parse_one(int argc, char *const *argv, int *i, CliOptions *o, uint32_t *seen, Err *e)
{
        const char *arg = argv[*i];
        if (strncmp(arg, "--", 2) != 0)
                return err_set(e, EINVAL, "Found argument '%s' which wasn't expected, or isn't "
                               "valid in this context.", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        const CliOption *opt = find_option(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!opt)
                return err_set(e, EINVAL, "Found argument '%s' which wasn't expected, or isn't "
                               "valid in this context.", arg);
        uint32_t bit = 1u << (opt - options);
        if (*seen & bit)
                return err_set(e, EINVAL, "The argument '%s' was provided more than once.", opt->name);
        *seen |= bit;
        void *slot = (char *)o + opt->offset;
        if (!opt->takes_value) {
                if (eq)
                        return err_set(e, EINVAL, "The argument '%s' does not take a value.", opt->name);
                *(bool *)slot = true;
                return 0;
        }
        const char *value = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!value || (!eq && !strncmp(value, "--", 2)))
                return err_set(e, EINVAL, "The argument '%s' requires a value, but none was "
                               "supplied.", opt->name);
        *(const char **)slot = value;
        return 0;
}

int cli_parse(int argc, char *const *argv, CliOptions *o, Err *e)
{
        uint32_t seen = 0;
        *o = (CliOptions){.id = "anonymous-instance", .engine = "process"};
        for (int i = 1; i < argc; i++) {
                int r = parse_one(argc, argv, &i, o, &seen, e);
                if (r < 0)
                        return r;
        }
        return 0;
}


int cli_default_init(char *out, size_t size)
{
        /* beside ember-vmm (an install), or the build tree: <build>/src/compat/ember-vmm and
         * <build>/guest/init/emberd-init */
        static const char *const beside[] = {"emberd-init", "../guest/init/emberd-init",
                                             "../../guest/init/emberd-init"};
        const char *env = getenv("EMBER_INIT");
        if (env && *env) {
                snprintf(out, size, "%s", env);
                return 0;
        }
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0) { /* no /proc (a jail): nothing to look beside */
                int r = -errno;
                snprintf(out, size, "emberd-init (no /proc/self/exe: %s)", strerror(-r));
                return r;
        }
        exe[n] = 0;
        const char *dir = dirname(exe);
        for (size_t i = 0; i < ELEMENTSOF(beside); i++) {
                snprintf(out, size, "%s/%s", dir, beside[i]);
                if (access(out, X_OK) == 0)
                        return 0;
        }
        /* neither exists: report the first place looked at when the guest starts */
        snprintf(out, size, "%s/%s", dir, beside[0]);
        return -ENOENT;
}

void cli_usage(const char *argv0)
{
        printf("Usage: %s --api-sock PATH [options]\n"
               "A VMM that serves the Firecracker API (v1.16.1) and runs the guest with the\n"
               "process engine (emberd-init in namespaces; NOT an isolation boundary) or qemu.\n\n",
               argv0);
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                printf("  --%-12s %s %s\n", options[i].name, options[i].takes_value ? "VALUE" : "     ",
                       options[i].help);
}
