/* record.h — a sandbox's record: <sandboxes_dir>/<id>/sandbox.json, one small JSON object
 * written atomically (temp file, fsync, rename) when its VMM is up and again once it is
 * ready; what a restarted emberd needs to re-adopt it (recovery.c). Read, validate, write,
 * remove — nothing here decides what to do with a record. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../proto/limits.h"
#include "sandbox.h"

#define RECORD_FILE "sandbox.json"
#define RECORD_VERSION 1
/* env is the only large part: SANDBOX_ENV_MAX strings under PROTO_MAX_STRING, each byte at
 * worst a 6-byte \u escape; the rest fits in 64 KiB */
#define RECORD_MAX_BYTES ((size_t)SANDBOX_ENV_MAX * PROTO_MAX_STRING * 6 + 64u * 1024)

typedef struct SandboxRecord {
        char id[SANDBOX_ID_MAX];
        char pack[64];
        char vmm[16];
        SandboxState state; /* SANDBOX_CREATING or SANDBOX_READY */
        unsigned vcpus, memory_mib, ttl_s, agent_port, boot_ms, ready_ms;
        int64_t created_at_ms, expires_at_ms; /* unix epoch ms; expires 0 = never */
        char **env;                           /* NULL-terminated "KEY=VALUE" */
        json_t *vm;                           /* fc_vm_save()'s object */
} SandboxRecord;

/* Writes sb's record as `state` (creating or ready) with expires_at_ms; sb->vm must be set.
 * A sandbox being deleted is not written (0): record_remove() comes strictly before or after. */
int record_write(Sandbox *sb, SandboxState state, int64_t expires_at_ms, Err *e);
/* Reads and checks dir's record: -ENOENT when there is none, -EBADMSG when it is partial,
 * corrupt, from another version, or names another sandbox than `id`. */
int record_read(const char *dir, const char *id, SandboxRecord *ret, Err *e);
void record_clear(SandboxRecord *r);
/* Unlinks the record once sb is deleting: a deleted sandbox is never re-adopted. */
void record_remove(Sandbox *sb);
/* Is name a sandbox id ("sb-" + 16 lowercase hex digits)? */
bool record_id_valid(const char *name);
