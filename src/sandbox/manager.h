/* manager.h — the sandbox manager: the only thing the API layer talks to.
 * Thread-safe: every call may come from any HTTP worker thread. Operations on different
 * sandboxes never wait on each other; an exec never holds the manager's lock.
 * Errors come back as -errno with an Err whose message is fit for a client. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/err.h"
#include "../shared/util.h"
#include "settings.h"

typedef struct Manager Manager;

#define SANDBOX_ID_MAX 40
#define SANDBOX_ENV_MAX 128

typedef struct SandboxSpec {
        const char *language_pack;
        unsigned vcpus;      /* 0 = pack default */
        unsigned memory_mib; /* 0 = pack default */
        unsigned ttl_s;      /* 0 = server default */
        bool ttl_set;
        const char **env;    /* "KEY=VALUE", applied to every exec; NULL-terminated or NULL */
} SandboxSpec;

typedef struct SandboxInfo {
        char id[SANDBOX_ID_MAX];
        char language_pack[64];
        const char *state;    /* "creating", "ready", "failed", "deleting" (static string) */
        unsigned vcpus, memory_mib, ttl_s;
        int64_t created_at_ms;  /* unix epoch ms */
        int64_t expires_at_ms;  /* 0 = never */
        unsigned boot_ms;       /* VMM spawn -> InstanceStart done */
        unsigned ready_ms;      /* VMM spawn -> agent answered ping */
        unsigned execs;         /* execs run so far */
        char vmm[16];           /* "process", "qemu", "firecracker" */
} SandboxInfo;

typedef struct ExecRequest {
        const char **argv;   /* NULL-terminated, or NULL when code is given */
        const char *code;    /* run with the pack's interpreter */
        size_t code_len;
        const char **env;    /* NULL-terminated or NULL; overrides the sandbox's env */
        const char *cwd;     /* NULL = guest default */
        const uint8_t *stdin_data;
        size_t stdin_len;
        uint32_t timeout_ms; /* 0 = default */
        /* Per-exec limits, enforced by a cgroup in the guest where it has one (see
         * ExecResult.limits_enforced). 0 = none; the API fills in the server's defaults. */
        uint32_t memory_limit_mib; /* beyond the sandbox's memory_mib: reduced to it */
        uint32_t pids_limit;
} ExecRequest;

typedef struct ExecResult {
        Buf out, err;        /* raw bytes, capped */
        int exit_code;       /* -1 when signalled */
        int signal;
        bool timed_out;
        bool stdout_truncated, stderr_truncated;
        uint64_t duration_ms;
        uint64_t cpu_time_ms;     /* user + system, every process of the exec (see below) */
        uint64_t peak_memory_kib;
        /* The verdict (static string), first that applies: "timeout", "oom", "pids_limit",
         * "output_limit" (a stream truncated), "signal", "exit_nonzero", "ok". */
        const char *status;
        /* The exec ran in its own cgroup: memory and pids limits applied, oom/pids_limit
         * are reliable, cpu_time and peak_memory cover all its processes. false (e.g. the
         * process engine): limits were not applied; figures are the main process's. */
        bool limits_enforced;
} ExecResult;

void exec_result_free(ExecResult *r);

typedef struct ManagerStats {
        unsigned sandboxes;
        uint64_t created_total, create_failed_total, deleted_total, expired_total;
        uint64_t execs_total, exec_failed_total, exec_timeouts_total;
} ManagerStats;

int manager_new(const Settings *s, Manager **ret, Err *e); /* s must outlive the manager */
void manager_free(Manager *m);                             /* deletes every sandbox */

int manager_create(Manager *m, const SandboxSpec *spec, SandboxInfo *ret, Err *e);
int manager_get(Manager *m, const char *id, SandboxInfo *ret, Err *e);          /* -ENOENT */
int manager_list(Manager *m, SandboxInfo **ret, size_t *ret_n);                  /* malloc'd */
int manager_exec(Manager *m, const char *id, const ExecRequest *req, ExecResult *ret, Err *e);
int manager_delete(Manager *m, const char *id, Err *e);                          /* -ENOENT */
void manager_stats(Manager *m, ManagerStats *ret);
const char *manager_vmm_name(Manager *m); /* what --vmm resolved to, for /healthz */
