/* cli.h — ember-vmm's command line: the subset of Firecracker's (FACTS §1.6) emberd uses,
 * plus --engine and --init. One table row per option; "--opt value" and "--opt=value" both
 * work (the jailer passes "--id=<id>"). Parsing only: no files, no logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../shared/err.h"

#define CLI_EXIT_ARGS 153      /* FcExitCode::ArgParsing */
#define CLI_EXIT_BAD_CONFIG 152 /* FcExitCode::BadConfiguration (bad --level) */

typedef struct CliOptions {
        const char *api_sock;
        const char *id;
        const char *log_path;
        const char *level;
        const char *engine;
        const char *init;
        const char *qemu_bin;
        const char *accel;           /* qemu engine: auto (probe), kvm or tcg */
        const char *kernel, *initrd; /* --probe-kvm's guest */
        bool probe_kvm;
        bool boot_timer; /* accepted, ignored */
        const char *start_time_us, *start_time_cpu_us, *parent_cpu_time_us; /* from a jailer; ignored */
        bool no_seccomp; /* Firecracker's --no-seccomp: no filter (src/shared/seccomp.c) */
        bool version;
        bool help;
} CliOptions;

/* Fills o (pointers into argv); -EINVAL with Firecracker's argument-parser texts. */
int cli_parse(int argc, char *const *argv, CliOptions *o, Err *e);
/* validate_instance_id(): 1..64 chars, alphanumeric or '-'. */
/* The emberd-init to use when --init is absent: $EMBER_INIT, else emberd-init beside
 * /proc/self/exe, else ../guest/init/emberd-init or ../../guest/init/emberd-init relative to
 * it (the build tree: <build>/src/compat/ember-vmm, <build>/guest/init/emberd-init). */
int cli_default_init(char *out, size_t size);
void cli_usage(const char *argv0);
