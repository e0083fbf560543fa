/* config.h — emberd's configuration: defaults, then a strict JSON --config FILE, then
 * command-line flags, all through ONE table (config.c) that also writes --help.
 * Fills Settings (src/sandbox/settings.h) plus what only the daemon and the API need. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sandbox/settings.h"
#include "shared/err.h"

#define CONFIG_FILE_MAX (1024u * 1024)

typedef struct Config {
        Settings settings;
        char **listen; /* "unix:/path", "127.0.0.1:8080", ... */
        size_t n_listen;
        char *token_file;
        bool allow_insecure_tcp; /* a loopback TCP listener may go without the token */
        unsigned socket_mode;    /* unix: listeners */
        char *socket_group;
        bool no_seccomp;         /* --no-seccomp: no filter (src/daemon/seccomp.c) */
        size_t max_body_bytes;
        int log_level;
        char *config_file;
        bool help, version;
} Config;

/* Defaults only (no file, no flags); Settings fully usable. */
int config_init(Config *c, Err *e);
/* Defaults, then --config FILE when given, then the flags; then the computed defaults
 * (listen, firecracker_bin, vmm_bin) and the checks that span keys. Stops early (help or
 * version set) when --help/--version is given. */
int config_parse(Config *c, int argc, char **argv, Err *e);
/* Applies a JSON config text on top of c (unknown keys and wrong types are errors naming
 * the key); name is used in messages. */
int config_apply_json(Config *c, const char *text, size_t len, const char *name, Err *e);
/* Fills computed defaults and checks consistency (also done by config_parse). */
int config_finish(Config *c, Err *e);
void config_free(Config *c);
void config_print_help(FILE *f, const char *argv0);
