/* main.c — ember-vmm: parses the command line, binds the API socket, serves the Firecracker
 * API until the guest ends. Exit statuses are Firecracker's: 0 after the guest ends, 1 when
 * the API socket cannot be bound, 152 for a bad --level, 153 for bad arguments. Never unlinks
 * the API socket or the vsock socket (emberd removes them). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "shared/util.h"
#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/ember-seccomp.h"
#include "api.h"
#include "cli.h"
#include "engine.h"
#include "kvm-probe.h"
#include "vmm.h"

#define NOFILE_WANTED 65536 /* 1023 vsock connections hold two fds each */

/* A closed 0/1/2 would let a socket take that number and the guest's stdio clobber it.
 * (No O_CLOEXEC here: these are stdio.) */
static void ensure_stdio(void)
{
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
                        _exit(1);
}

static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NOFILE_WANTED) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)NOFILE_WANTED);
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int arg_error(const char *msg)
{
        fprintf(stderr, "Arguments parsing error: %s\n\nFor more information try --help.\n", msg);
        return CLI_EXIT_ARGS;
}

/* --log-path / --level: the same as a PUT /logger before anything else. */
static int startup_logger(Vmm *vm, const CliOptions *o)
{
        Err e = {0};
        LoggerBody b = {0};
        if (!o->log_path && !o->level)
                return 0;
        if (o->level && (b.level = model_parse_level(o->level)) < 0) {
                fprintf(stderr, "Invalid value for logger level: Failed to parse string to level "
                        "filter: %s.Possible values: [Error, Warning, Info, Debug]\n", o->level);
                return -CLI_EXIT_BAD_CONFIG;
        }
        fields_set_has(&model_logger_schema, &b, LG_LEVEL, o->level != NULL);
        if (o->log_path && !(b.log_path = strdup(o->log_path)))
                return -1;
        fields_set_has(&model_logger_schema, &b, LG_LOG_PATH, o->log_path != NULL);
        if (model_set_logger(&vm->model, &b, &e) < 0) {
                fprintf(stderr, "Could not initialize logger: %s\n", e.msg);
                return -1;
        }
        vmm_logger_changed(vm);
        return 0;
}

static int run(const CliOptions *o, const EngineOps *ops)
{
        char init[PATH_MAX] = "";
        Err e = {0};
        Vmm vm;
        if (o->init)
                snprintf(init, sizeof(init), "%s", o->init);
        else if (ops == &engine_process_ops && cli_default_init(init, sizeof(init)) < 0)
                log_warn("no emberd-init found (looked at %s); InstanceStart will fail", init);
        EngineConfig cfg = {.init_path = init, .qemu_bin = o->qemu_bin, .accel = o->accel};
        if (vmm_init(&vm, o->id, ops, &cfg, &e) < 0) {
                log_error("%s", e.msg);
                vmm_free(&vm);
                return 1;
        }
        vm.route_logs = true;
        int r = startup_logger(&vm, o);
        _cleanup_close_ int api_fd = -1;
        if (r == 0 && (r = api_bind(o->api_sock, &api_fd)) < 0) {
                log_error("Failed to open the API socket at: %s. Check that it is not already "
                          "used. (%s)", o->api_sock, strerror(-r));
                r = -1;
        }
        if (r == 0) {
                log_info("API server listening on %s (engine %s, id %s)", o->api_sock, ops->name, o->id);
                r = vmm_serve(&vm, api_fd, &e);
                if (r < 0)
                        log_error("%s", e.msg);
        }
        vmm_free(&vm);
        return r < 0 ? (r == -CLI_EXIT_BAD_CONFIG ? CLI_EXIT_BAD_CONFIG : 1) : r;
}

int main(int argc, char **argv)
{
        static char prefix[16 + COMPAT_ID_MAX];
        CliOptions o;
        Err e = {0};
        bool known;
        ensure_stdio();
        raise_nofile();
        (void)signal(SIGPIPE, SIG_IGN); /* Firecracker handles SIGPIPE too: never fatal */
        log_set_prefix("ember-vmm");
        if (cli_parse(argc, argv, &o, &e) < 0)
                return arg_error(e.msg);
        if (o.help) {
                cli_usage(argv[0]);
                return 0;
        }
        if (o.version) {
                printf("Firecracker v%s\nember-vmm, a Firecracker API compatible VMM\n",
                       COMPAT_FIRECRACKER_VERSION);
                return 0;
        }
        if (o.probe_kvm)
                return kvm_probe_cli(o.qemu_bin, o.kernel, o.initrd);
        if (!o.api_sock)
                return arg_error("Missing argument: api-sock.");
        if (!instance_id_valid(o.id))
                return arg_error("Invalid instance ID: 1-64 characters, alphanumeric or '-'.");
        const EngineOps *ops = engine_find(o.engine, &known);
        if (!known)
                return arg_error("Invalid value for --engine: use process or qemu.");
        if (!ops) {
                fprintf(stderr, "ember-vmm: engine %s not built yet\n", o.engine);
                return 1;
        }
        snprintf(prefix, sizeof(prefix), "ember-vmm:%s", o.id);
        log_set_prefix(prefix);
        if (!o.no_seccomp && seccomp_vmm(o.engine) < 0) /* before any thread or guest */
                return 1;
        return run(&o, ops);
}
