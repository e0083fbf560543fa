/* sandbox.h — one sandbox: its identity, its state machine (a table), its microVM, its
 * boot (VMM up, configured, started, agent answering) and its execs.
 * Internal to src/sandbox: the API layer sees only manager.h. The manager owns the map and
 * the reference counts; a Sandbox guards its own state and VM pointer. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "../vmm/fc-vm.h"
#include "manager.h"

typedef enum SandboxState {
        SANDBOX_CREATING,
        SANDBOX_READY,
        SANDBOX_FAILED,
        SANDBOX_DELETING,
        _SANDBOX_STATE_MAX,
} SandboxState;

#define SANDBOX_EXEC_DIAL_MS 3000   /* a running guest answers CONNECT at once */
#define SANDBOX_PING_MS 1000        /* one readiness ping */
#define SANDBOX_VM_DEATH_MS 100     /* a cut connection: wait this long for the VMM's exit */
#define SANDBOX_ADOPT_MS 1000       /* restart recovery: dial + ping a recorded sandbox's agent */
#define SANDBOX_FAILED_KEEP_MS 60000 /* a failed sandbox stays listed (as failed) this long */

/* Resolved once by the manager, the same for every boot. */
typedef struct SandboxBoot {
        const char *const *vmm_argv;
        const char *kernel, *initrd; /* absolute; initrd may be NULL */
        const char *boot_args;       /* ember's own + Settings.boot_args */
        unsigned boot_timeout_ms;
        const FcJailConfig *jail;     /* NULL = the VMM runs unjailed */
        const FcCgroupConfig *cgroup; /* NULL = no host cgroup */
} SandboxBoot;

/* What a sandbox is made of; fixed for its whole life. */
typedef struct SandboxParams {
        const Pack *pack;
        const char *rootfs;      /* absolute, or NULL */
        const char *const *env;  /* "KEY=VALUE", NULL-terminated or NULL */
        unsigned vcpus, memory_mib, ttl_s, agent_port;
        const char *vmm_name;
} SandboxParams;

typedef struct Sandbox {
        /* immutable once sandbox_new() returned */
        char id[SANDBOX_ID_MAX];
        const Pack *pack;
        char *dir;     /* <sandboxes_dir>/<id> */
        char *rootfs;
        char **env;    /* NULL-terminated copies */
        unsigned vcpus, memory_mib, ttl_s, agent_port;
        char vmm[16];
        int64_t created_at_ms; /* unix epoch ms */
        atomic_uint execs;
        unsigned refs;         /* the manager's lock guards it */
        pthread_mutex_t record_lock; /* orders record writes with the record's removal */
        pthread_mutex_t lock;  /* guards what follows */
        SandboxState state;
        FcVm *vm;              /* set during the boot, never changed once ready */
        unsigned boot_ms, ready_ms;
        int64_t expires_at_ms; /* unix epoch ms; 0 = never; set when it becomes ready */
} Sandbox;

int sandbox_id_new(char ret[SANDBOX_ID_MAX]); /* "sb-" + 16 random hex digits */
int64_t sandbox_epoch_ms(void);                /* CLOCK_REALTIME: what the API shows */
/* dir = <sandboxes_dir>/<id>, created by sandbox_boot(). */
int sandbox_new(const char *id, const char *sandboxes_dir, const SandboxParams *p, Sandbox **ret);
void sandbox_free(Sandbox *sb); /* tears the VM down (if any) and removes the directory */

const char *sandbox_state_name(SandboxState s);
bool sandbox_transition_allowed(SandboxState from, SandboxState to);
/* Moves to `to` when the table allows it: 0, or -EBUSY with the state unchanged.
 * A failed sandbox expires SANDBOX_FAILED_KEEP_MS later at the latest. */
int sandbox_set_state(Sandbox *sb, SandboxState to);
SandboxState sandbox_get_state(Sandbox *sb);
/* creating -> ready, starting the TTL clock at now_epoch_ms. -EBUSY if it was deleted. */
int sandbox_set_ready(Sandbox *sb, int64_t now_epoch_ms);
/* Ready or failed, with a TTL (or a failed sandbox's stay) that ran out by now_epoch_ms. */
bool sandbox_expired(Sandbox *sb, int64_t now_epoch_ms);
void sandbox_info(Sandbox *sb, SandboxInfo *ret);

/* Launch, configure, InstanceStart, then dial + ping until boot_timeout_ms. On failure the
 * VM may still need sandbox_free(); the Err says why (fault_message, exit status, console). */
int sandbox_boot(Sandbox *sb, const SandboxBoot *b, Err *e);
/* Restart recovery: takes over the VMM of a ready sandbox's record (recovery.c, record.h),
 * launched the way b says, and pings its agent within SANDBOX_ADOPT_MS; then the sandbox is ready again, with the
 * record's times. sb comes from sandbox_new() with the record's id and parameters. On
 * failure sandbox_free() kills what was adopted and removes the directory. */
struct SandboxRecord;
int sandbox_adopt(Sandbox *sb, const SandboxBoot *b, const struct SandboxRecord *rec, Err *e);
/* A ready sandbox whose VMM has exited becomes failed: true when this call did it. */
bool sandbox_check_vm(Sandbox *sb);
/* Frees a failed sandbox's host resources now (VMM reaped, sockets and directory gone);
 * the sandbox itself stays listed as failed until deleted or expired. */
void sandbox_teardown_failed(Sandbox *sb);
/* Marks the sandbox deleting; a boot in progress is aborted (its VMM killed), a running VM
 * is torn down at once. In-flight execs then fail fast. Returns the previous state. */
SandboxState sandbox_delete(Sandbox *sb);
/* Asks a ready/failed VM to stop without waiting (shutdown of many at once; the caller
 * must be the only one deleting). */
void sandbox_request_stop(Sandbox *sb);

/* sandbox-exec.c */
/* Builds the agent request: argv or pack interpreter + code, env = sandbox env then request
 * env (request wins per key), timeout, caps. -EINVAL naming the field. *ret_env is the
 * merged env array to free() after use. */
int sandbox_exec_build(const Sandbox *sb, const ExecRequest *req, uint32_t output_cap,
                       ProtoExec *ret, const char ***ret_env, Err *e);
int sandbox_exec(Sandbox *sb, const ExecRequest *req, uint32_t output_cap, ExecResult *ret,
                 Err *e);
