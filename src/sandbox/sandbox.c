/* sandbox.c — the sandbox object: id, state table, boot and delete (see sandbox.h).
 * The boot publishes its VM under the sandbox lock so that a concurrent delete can abort
 * it; whoever ends a sandbox's life leaves no process, socket or directory behind.
 * Must not touch the manager's map or counters. */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../vsock/agent.h"
#include "../vsock/hybrid.h"
#include "record.h"

int sandbox_id_new(char ret[SANDBOX_ID_MAX])
{
        uint8_t raw[8];
        size_t got = 0;
        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                got += (size_t)n;
        }
        int o = snprintf(ret, SANDBOX_ID_MAX, "sb-");
        for (size_t i = 0; i < sizeof(raw); i++)
                o += snprintf(ret + o, SANDBOX_ID_MAX - (size_t)o, "%02x", raw[i]);
        return 0;
}

int64_t sandbox_epoch_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char **strv_copy(const char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        char **c = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; c && i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        while (i > 0)
                                free(c[--i]);
                        free(c);
                        return NULL;
                }
        return c;
}

int sandbox_new(const char *id, const char *sandboxes_dir, const SandboxParams *p, Sandbox **ret)
{
        Sandbox *sb = calloc(1, sizeof(*sb));
        if (!sb)
                return -ENOMEM;
        pthread_mutex_init(&sb->lock, NULL);
        pthread_mutex_init(&sb->record_lock, NULL);
        snprintf(sb->id, sizeof(sb->id), "%s", id);
        snprintf(sb->vmm, sizeof(sb->vmm), "%s", p->vmm_name);
        sb->pack = p->pack;
        sb->vcpus = p->vcpus;
        sb->memory_mib = p->memory_mib;
        sb->ttl_s = p->ttl_s;
        sb->agent_port = p->agent_port;
        sb->state = SANDBOX_CREATING;
        sb->env = strv_copy(p->env);
        sb->rootfs = p->rootfs ? strdup(p->rootfs) : NULL;
        if (asprintf(&sb->dir, "%s/%s", sandboxes_dir, id) < 0)
                sb->dir = NULL;
        sb->created_at_ms = sandbox_epoch_ms();
        if (!sb->env || !sb->dir || (p->rootfs && !sb->rootfs)) {
                sandbox_free(sb);
                return -ENOMEM;
        }
        *ret = sb;
        return 0;
}

void sandbox_free(Sandbox *sb)
{
        if (!sb)
                return;
        if (sb->vm)
                fc_vm_free(sb->vm); /* stops the VMM and removes the directory */
        else if (sb->dir)
                (void)rm_rf(sb->dir);
        for (size_t i = 0; sb->env && sb->env[i]; i++)
                free(sb->env[i]);
        free(sb->env);
        free(sb->rootfs);
        free(sb->dir);
        pthread_mutex_destroy(&sb->record_lock);
        pthread_mutex_destroy(&sb->lock);
        free(sb);
}

/* ---- state machine ---- */

static const struct {
        const char *name;
        bool to[_SANDBOX_STATE_MAX];
} states[_SANDBOX_STATE_MAX] = {
        [SANDBOX_CREATING] = {"creating",
                              {[SANDBOX_READY] = true, [SANDBOX_FAILED] = true,
                               [SANDBOX_DELETING] = true}},
        [SANDBOX_READY] = {"ready", {[SANDBOX_FAILED] = true, [SANDBOX_DELETING] = true}},
        [SANDBOX_FAILED] = {"failed", {[SANDBOX_DELETING] = true}},
        [SANDBOX_DELETING] = {"deleting", {}},
};

const char *sandbox_state_name(SandboxState s)
{
        return (unsigned)s < _SANDBOX_STATE_MAX ? states[s].name : "unknown";
}

bool sandbox_transition_allowed(SandboxState from, SandboxState to)
{
        return (unsigned)from < _SANDBOX_STATE_MAX && (unsigned)to < _SANDBOX_STATE_MAX &&
               states[from].to[to];
}

int sandbox_set_state(Sandbox *sb, SandboxState to)
{
        int64_t keep_until = to == SANDBOX_FAILED ? sandbox_epoch_ms() + SANDBOX_FAILED_KEEP_MS : 0;
        pthread_mutex_lock(&sb->lock);
        bool ok = sandbox_transition_allowed(sb->state, to);
        if (ok)
                sb->state = to;
        /* failed holds no VM (sandbox_teardown_failed), only a slot: it is shown, then reaped */
        if (ok && keep_until && (!sb->expires_at_ms || sb->expires_at_ms > keep_until))
                sb->expires_at_ms = keep_until;
        pthread_mutex_unlock(&sb->lock);
        return ok ? 0 : -EBUSY;
}

SandboxState sandbox_get_state(Sandbox *sb)
{
        pthread_mutex_lock(&sb->lock);
        SandboxState s = sb->state;
        pthread_mutex_unlock(&sb->lock);
        return s;
}

int sandbox_set_ready(Sandbox *sb, int64_t now_epoch_ms)
{
        pthread_mutex_lock(&sb->lock);
        bool ok = sandbox_transition_allowed(sb->state, SANDBOX_READY);
        if (ok) {
                sb->state = SANDBOX_READY;
                sb->expires_at_ms = sb->ttl_s ? now_epoch_ms + (int64_t)sb->ttl_s * 1000 : 0;
        }
        pthread_mutex_unlock(&sb->lock);
        return ok ? 0 : -EBUSY;
}

bool sandbox_expired(Sandbox *sb, int64_t now_epoch_ms)
{
        pthread_mutex_lock(&sb->lock);
        bool expired = (sb->state == SANDBOX_READY || sb->state == SANDBOX_FAILED) &&
                       sb->expires_at_ms && now_epoch_ms >= sb->expires_at_ms;
        pthread_mutex_unlock(&sb->lock);
        return expired;
}

void sandbox_info(Sandbox *sb, SandboxInfo *ret)
{
        pthread_mutex_lock(&sb->lock);
        *ret = (SandboxInfo){
                .state = sandbox_state_name(sb->state),
                .vcpus = sb->vcpus,
                .memory_mib = sb->memory_mib,
                .ttl_s = sb->ttl_s,
                .created_at_ms = sb->created_at_ms,
                .expires_at_ms = sb->expires_at_ms,
                .boot_ms = sb->boot_ms,
                .ready_ms = sb->ready_ms,
                .execs = atomic_load(&sb->execs),
        };
        pthread_mutex_unlock(&sb->lock);
        snprintf(ret->id, sizeof(ret->id), "%s", sb->id);
        snprintf(ret->language_pack, sizeof(ret->language_pack), "%s", sb->pack->name);
        snprintf(ret->vmm, sizeof(ret->vmm), "%s", sb->vmm);
}

/* ---- boot ---- */

/* Makes vm visible to sandbox_delete(); a delete that came first aborts it at once. */
static void publish_vm(Sandbox *sb, FcVm *vm)
{
        pthread_mutex_lock(&sb->lock);
        sb->vm = vm;
        bool deleting = sb->state == SANDBOX_DELETING;
        pthread_mutex_unlock(&sb->lock);
        if (deleting)
                fc_vm_kill(vm);
}

static int boot_error(Sandbox *sb, int r, Err *e)
{
        if (sandbox_get_state(sb) == SANDBOX_DELETING)
                return err_set(e, EHOSTDOWN, "the sandbox was deleted while it was booting");
        if (sb->vm && fc_vm_exited(sb->vm))
                return fc_vm_exit_error(sb->vm, "during boot", e);
        return r;
}

/* The guest agent answers only once the kernel, emberd-init and its listener are up:
 * dial (the VMM holds or refuses CONNECT until then) and ping, again and again. */
static int wait_agent(Sandbox *sb, const SandboxBoot *b, int64_t deadline, Err *e)
{
        const char *vsock = fc_vm_vsock_path(sb->vm);
        int pidfd = fc_vm_pidfd(sb->vm);
        int backoff = HYBRID_BACKOFF_MIN_MS, r;
        for (;;) {
                _cleanup_close_ int fd = -1;
                r = hybrid_dial(vsock, sb->agent_port, deadline, pidfd, &fd, e);
                if (r >= 0)
                        r = agent_ping(fd, MIN(deadline, now_ms() + SANDBOX_PING_MS), NULL, e);
                if (r >= 0 || r == -EHOSTDOWN || deadline_left(deadline) == 0)
                        break;
                if (fd_wait_readable(pidfd, MIN(deadline, now_ms() + backoff)) > 0)
                        break;
                backoff = MIN(backoff * 2, HYBRID_BACKOFF_MAX_MS);
        }
        if (r >= 0 || fc_vm_exited(sb->vm) || r == -EHOSTDOWN)
                return r;
        char last[256], tail[512];
        snprintf(last, sizeof(last), "%.*s", (int)sizeof(last) - 1, e ? e->msg : "");
        fc_vm_console_tail(sb->vm, tail, sizeof(tail));
        return err_set(e, ETIMEDOUT, "the guest agent did not answer within %u ms (%s)%s%s",
                       b->boot_timeout_ms, last, tail[0] ? "; console: " : "", tail);
}

int sandbox_boot(Sandbox *sb, const SandboxBoot *b, Err *e)
{
        if (mkdir(sb->dir, 0700) < 0)
                return err_set(e, errno, "cannot create %s: %s", sb->dir, strerror(errno));
        FcVmConfig c = {
                .dir = sb->dir,
                .id = sb->id,
                .argv = b->vmm_argv,
                .vcpus = sb->vcpus,
                .mem_mib = sb->memory_mib,
                .kernel = b->kernel,
                .initrd = b->initrd,
                .boot_args = b->boot_args,
                .rootfs = sb->rootfs,
                .jail = b->jail,
                .cgroup = b->cgroup,
        };
        int64_t t0 = now_ms();
        FcVm *vm = NULL;
        int r = fc_vm_launch(&c, &vm, e);
        if (r < 0)
                return boot_error(sb, r, e);
        publish_vm(sb, vm);
        /* from here a restarted emberd finds this VMM through the record, and kills it */
        r = record_write(sb, SANDBOX_CREATING, 0, e);
        if (r >= 0)
                r = fc_vm_configure(vm, &c, e);
        if (r >= 0)
                r = fc_vm_start(vm, e);
        if (r < 0)
                return boot_error(sb, r, e);
        int64_t t1 = now_ms();
        r = wait_agent(sb, b, t1 + b->boot_timeout_ms, e);
        if (r < 0)
                return boot_error(sb, r, e);
        pthread_mutex_lock(&sb->lock);
        sb->boot_ms = (unsigned)(t1 - t0);
        sb->ready_ms = (unsigned)(now_ms() - t0);
        pthread_mutex_unlock(&sb->lock);
        return 0;
}

void sandbox_request_stop(Sandbox *sb)
{
        pthread_mutex_lock(&sb->lock);
        FcVm *vm = sb->state == SANDBOX_READY || sb->state == SANDBOX_FAILED ? sb->vm : NULL;
        pthread_mutex_unlock(&sb->lock);
        fc_vm_request_stop(vm);
}

SandboxState sandbox_delete(Sandbox *sb)
{
        pthread_mutex_lock(&sb->lock);
        SandboxState prev = sb->state;
        if (sandbox_transition_allowed(prev, SANDBOX_DELETING))
                sb->state = SANDBOX_DELETING;
        FcVm *vm = sb->vm;
        pthread_mutex_unlock(&sb->lock);
        if (prev != SANDBOX_DELETING)
                record_remove(sb);
        if (!vm || prev == SANDBOX_DELETING)
                return prev;
        if (prev == SANDBOX_CREATING)
                fc_vm_kill(vm); /* the booting thread owns the VM and tears it down */
        else
                fc_vm_stop(vm);
        return prev;
}

/* ---- restart recovery and VM watch ---- */

static int adopt_ping(Sandbox *sb, Err *e)
{
        int64_t deadline = now_ms() + SANDBOX_ADOPT_MS;
        _cleanup_close_ int fd = -1;
        int r = hybrid_dial(fc_vm_vsock_path(sb->vm), sb->agent_port, deadline,
                            fc_vm_pidfd(sb->vm), &fd, e);
        if (r >= 0)
                r = agent_ping(fd, deadline, NULL, e);
        return r < 0 ? err_prefix(e, "its agent does not answer") : 0;
}

int sandbox_adopt(Sandbox *sb, const SandboxBoot *b, const SandboxRecord *rec, Err *e)
{
        FcVmConfig c = {.dir = sb->dir, .id = sb->id, .argv = b->vmm_argv, .jail = b->jail,
                        .cgroup = b->cgroup};
        FcVm *vm = NULL;
        int r = fc_vm_adopt(&c, rec->vm, &vm, e);
        if (r < 0)
                return r;
        publish_vm(sb, vm);
        r = adopt_ping(sb, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&sb->lock);
        sb->created_at_ms = rec->created_at_ms;
        sb->expires_at_ms = rec->expires_at_ms;
        sb->boot_ms = rec->boot_ms;
        sb->ready_ms = rec->ready_ms;
        sb->state = SANDBOX_READY;
        pthread_mutex_unlock(&sb->lock);
        return 0;
}

bool sandbox_check_vm(Sandbox *sb)
{
        pthread_mutex_lock(&sb->lock);
        FcVm *vm = sb->state == SANDBOX_READY ? sb->vm : NULL;
        pthread_mutex_unlock(&sb->lock);
        return vm && fc_vm_exited(vm) && sandbox_set_state(sb, SANDBOX_FAILED) >= 0;
}

void sandbox_teardown_failed(Sandbox *sb)
{
        pthread_mutex_lock(&sb->lock);
        FcVm *vm = sb->state == SANDBOX_FAILED ? sb->vm : NULL;
        pthread_mutex_unlock(&sb->lock);
        if (vm)
                fc_vm_stop(vm); /* idempotent, like a delete racing with it */
}
