/* cmdline.h — the guest kernel command line as emberd-init reads it (docs/design.md §1) and
 * the value parsers it needs. Pure parsing: no I/O, no logging; unknown ember.* keys are
 * handed to a note callback, malformed values are errors (fatal for the caller). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "shared/err.h"

#define CMDLINE_MAX 4096            /* x86 COMMAND_LINE_SIZE is 2048; Firecracker's too */
#define CMDLINE_ROOT_MAX 256
#define CMDLINE_FSTYPE_MAX 32
#define CMDLINE_MAX_SIZE (1ull << 40) /* 1 TiB: anything bigger is a typo */

typedef struct InitConfig {
        char root[CMDLINE_ROOT_MAX];        /* block device path, or "none" */
        char rootfstype[CMDLINE_FSTYPE_MAX];
        uint32_t port;                      /* AF_VSOCK port of the agent */
        uint64_t overlay_size;              /* bytes, for every tmpfs emberd-init mounts */
        bool overlay_size_set;              /* given on the command line (else see steps.c) */
        bool debug;
} InitConfig;

typedef void (*CmdlineNote)(void *userdata, const char *word);

void cmdline_defaults(InitConfig *c);
/* Parses a whole command line over c (start from cmdline_defaults()). Words are split on
 * blanks outside double quotes, quotes are removed (as the kernel does); parsing stops at
 * "--"; for a repeated key the last occurrence wins. Non-ember words are skipped silently,
 * unknown ember.* words go to note (may be NULL). -EINVAL with a message on a bad value,
 * -E2BIG on a line over CMDLINE_MAX. */
int cmdline_parse(const char *line, InitConfig *c, CmdlineNote note, void *userdata, Err *e);
bool cmdline_root_none(const InitConfig *c);

/* "256m", "1G", "65536": decimal digits and one optional k/m/g suffix (any case); > 0 and
 * <= CMDLINE_MAX_SIZE. -EINVAL otherwise. */
int parse_size(const char *s, uint64_t *ret);
/* A vsock port: decimal, 1..0xfffffffe (0xffffffff is VMADDR_PORT_ANY). */
int parse_port(const char *s, uint32_t *ret);
/* A decimal unsigned number <= max, digits only. */
int parse_uint(const char *s, uint64_t max, uint64_t *ret);
