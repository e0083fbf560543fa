/* fc-vm.h — one microVM driven through the Firecracker API: launch the VMM in a given
 * directory, configure it (FACTS §1.5 order), start it, tear it down completely.
 * The ONLY VMM driver of emberd: it never knows whether Firecracker or ember-vmm answers.
 * Files in the VM directory: api.sock, vsock.sock (+ vsock.sock_<port>), console.log, vmm.log. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../shared/err.h"
#include "fc-jail.h"

typedef struct FcVmConfig {
        const char *dir;         /* exists, private to this VM; removed by fc_vm_stop() */
        const char *id;          /* --id, [A-Za-z0-9-]{1,64} */
        const char *const *argv; /* the VMM and its extra args; --api-sock and --id are appended */
        unsigned vcpus, mem_mib;
        const char *kernel;      /* absolute paths: the VMM runs in dir */
        const char *initrd;      /* NULL = none */
        const char *boot_args;
        const char *rootfs;      /* NULL = no drive; else read-only drive "rootfs" (/dev/vda) */
        int api_timeout_ms;      /* per API call; 0 = FC_VM_API_TIMEOUT_MS */
        int launch_timeout_ms;   /* spawn -> API socket accepts; 0 = FC_VM_LAUNCH_TIMEOUT_MS */
        const FcJailConfig *jail;     /* NULL = run argv directly; else through c->jail->jailer */
        const FcCgroupConfig *cgroup; /* NULL = no host cgroup; removed with the VM */
} FcVmConfig;

#define FC_VM_API_TIMEOUT_MS 10000
#define FC_VM_LAUNCH_TIMEOUT_MS 5000
#define FC_VM_STOP_GRACE_MS 300 /* SendCtrlAltDel -> SIGKILL */

typedef struct FcVm FcVm;

/* Spawns the VMM and waits for its API socket. On failure nothing is left running.
 * A jailed launch makes this process a child subreaper (prctl), so that the VMM the jailer
 * forks into a new pid namespace stays its child: only do it where every VMM is jailed. */
int fc_vm_launch(const FcVmConfig *c, FcVm **ret, Err *e);
/* logger -> machine-config -> boot-source -> drives -> vsock -> entropy. */
int fc_vm_configure(FcVm *vm, const FcVmConfig *c, Err *e);
/* PUT /actions InstanceStart: the guest then boots asynchronously. */
int fc_vm_start(FcVm *vm, Err *e);

/* Restart recovery (src/sandbox/recovery.c). fc_vm_save: what a later emberd needs to find
 * this VMM again, as a JSON object for the sandbox's record ({"pid", "start_time",
 * "started"}; a launch path with more to undo, e.g. a jail, adds its fields). New reference. */
json_t *fc_vm_save(const FcVm *vm);
/* Takes over the VMM a previous emberd launched with the same c->dir, c->id, c->argv[0],
 * c->jail and c->cgroup: -ESRCH unless it is alive, started at the saved time and is this
 * VM's (jailed: its root is the jail's chroot; else its command line names the API socket).
 * It is not our child: watched and killed through a pidfd, never reaped. */
int fc_vm_adopt(const FcVmConfig *c, const json_t *saved, FcVm **ret, Err *e);
/* For a VM of c->id whose VMM is gone: removes its jail directory (c->jail) and its host
 * cgroup (c->cgroup). c->dir is the caller's to remove. */
void fc_vm_remove_leftovers(const FcVmConfig *c);
/* Calls fn for each live process whose command line names an API socket of a VM directory
 * under parent_dir ("--api-sock <parent_dir>/<name>/api.sock"), with name and a pidfd that
 * pins it (fn must not keep it). Stops at fn's first error. */
int fc_vm_scan(const char *parent_dir, int (*fn)(void *ud, const char *name, int pidfd),
               void *ud);

const char *fc_vm_vsock_path(const FcVm *vm);
/* Readable (POLLIN) once the VMM has exited; valid until fc_vm_free(). */
int fc_vm_pidfd(const FcVm *vm);
bool fc_vm_exited(const FcVm *vm);
bool fc_vm_wait_exit(const FcVm *vm, int timeout_ms); /* true once the VMM has exited */
/* -EHOSTDOWN: how the VMM ended and the last console lines, "<when>" in the message. */
int fc_vm_exit_error(FcVm *vm, const char *when, Err *e);

/* The last console lines on one line (see fc_launch_console_tail), for a boot that timed out. */
void fc_vm_console_tail(const FcVm *vm, char *out, size_t out_size);

/* SIGKILL at once, from any thread (aborts a boot another thread is running). */
void fc_vm_kill(FcVm *vm);
/* Sends SendCtrlAltDel now (once) without waiting: fc_vm_stop() then waits only what is
 * left of the grace, so that many VMs stop in parallel. */
void fc_vm_request_stop(FcVm *vm);
/* SendCtrlAltDel (if started), wait FC_VM_STOP_GRACE_MS, SIGKILL, reap, remove the sockets
 * and the directory. Idempotent; other threads may still hold the pidfd and paths. */
void fc_vm_stop(FcVm *vm);
void fc_vm_free(FcVm *vm); /* fc_vm_stop() + free; NULL-safe */
