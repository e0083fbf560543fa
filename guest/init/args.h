/* args.h — emberd-init's own arguments. VM mode has none (PID 1 of the guest kernel; the
 * kernel may pass stray words, which are ignored). Process-engine mode (docs/design.md §3):
 *   --process-engine --cmdline "<boot args>" --agent-fd N [--dev vda=MAJ:MIN]...
 * Pure parsing; the fd is only checked for range here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "shared/err.h"

#define ARGS_MAX_DEVS 16
#define ARGS_DEV_NAME_MAX 16

typedef struct InitDev {
        char name[ARGS_DEV_NAME_MAX]; /* "vda": the node is /dev/<name> */
        unsigned major, minor;
} InitDev;

typedef struct InitArgs {
        bool process_engine;
        const char *cmdline; /* points into argv */
        int agent_fd;
        InitDev devs[ARGS_MAX_DEVS];
        size_t n_devs;
} InitArgs;

/* -EINVAL with a message on anything unknown or malformed in process-engine mode; in VM
 * mode (no --process-engine) unknown words are ignored. */
int args_parse(int argc, char **argv, InitArgs *ret, Err *e);
/* "vda=254:0" -> dev; -EINVAL when malformed. */
int args_parse_dev(const char *s, InitDev *ret);
