/* manager.c — the sandbox manager (see manager.h): validation, the id -> sandbox map with
 * reference counts, capacity, create/exec/delete, restart recovery of a previous run's
 * sandboxes, the reaper (TTL, VMs that died) and the counters.
 * The lock guards only the map, the counts and the counters: no VMM call, no exec and no
 * teardown ever runs under it. Logs one line per sandbox lifecycle event. */
#include "manager.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../shared/log.h"
#include "record.h"
#include "recovery.h"
#include "sandbox.h"
#include "vmm-select.h"

#define MANAGER_REAPER_PERIOD_MS 1000
#define MANAGER_BOOT_ARGS_MAX 1792 /* Firecracker: 2048 with what it appends (FACTS §3) */
#define MANAGER_DEFAULT_VCPU_MAX 32
#define MANAGER_DEFAULT_MEMORY_MIB 128
/* the longest socket path under a sandbox directory: <uds_path>_<u32 port> */
#define MANAGER_LONGEST_SOCKET "/sb-0123456789abcdef/vsock.sock_4294967295"

struct Manager {
        const Settings *s;
        VmmKind kind;
        char **vmm_argv;
        VmmJail jail; /* jailer and host cgroup of every VMM */
        char *sandboxes_dir, *kernel, *initrd, *boot_args;
        int lock_fd; /* flock on <state_dir>/emberd.lock: one emberd per state dir */
        char **pack_rootfs; /* per Settings.packs entry, absolute or NULL */
        unsigned agent_port;
        SandboxBoot boot;

        pthread_mutex_t lock;
        Sandbox **map;
        size_t n, alloc;
        ManagerStats st;

        pthread_cond_t wake;
        pthread_t reaper;
        bool reaper_running, stopping;
};

/* ---- setup ---- */

static char *absolute(const char *p)
{
        char *r = NULL;
        if (p[0] == '/')
                return strdup(p);
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        return cwd && asprintf(&r, "%s/%s", cwd, p) >= 0 ? r : NULL;
}

/* Relative image paths are under images_dir; the VMM runs elsewhere, so make them absolute. */
static char *image_path(const Settings *s, const char *p)
{
        char *r = NULL;
        if (!p || !p[0])
                return NULL;
        if (p[0] == '/' || !s->images_dir)
                return absolute(p);
        _cleanup_free_ char *dir = absolute(s->images_dir);
        return dir && asprintf(&r, "%s/%s", dir, p) >= 0 ? r : NULL;
}

/* Recovery kills every VMM of the state dir that it does not adopt: two emberds sharing one
 * would kill each other's. The lock dies with the process, so a kill -9 never leaves it. */
static int lock_state_dir(Manager *m, const char *state, Err *e)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/emberd.lock", state) < 0)
                return err_set(e, ENOMEM, "out of memory");
        m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (m->lock_fd < 0)
                return err_set(e, errno, "cannot open %s: %s", path, strerror(errno));
        if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
                return err_set(e, errno == EWOULDBLOCK ? EBUSY : errno,
                               "state_dir %s is in use by another emberd (%s is locked)", state,
                               path);
        return 0;
}

static int setup_dirs(Manager *m, Err *e)
{
        const Settings *s = m->s;
        if (!s->state_dir || !s->state_dir[0])
                return err_set(e, EINVAL, "state_dir is not set");
        _cleanup_free_ char *state = absolute(s->state_dir);
        if (!state || asprintf(&m->sandboxes_dir, "%s/sandboxes", state) < 0) {
                m->sandboxes_dir = NULL;
                return err_set(e, ENOMEM, "out of memory");
        }
        const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
        size_t extra = strlen(m->sandboxes_dir) - strlen(state) + strlen(MANAGER_LONGEST_SOCKET);
        if (strlen(state) + extra > max)
                return err_set(e, ENAMETOOLONG,
                               "state_dir '%s' is too long: sandbox socket paths would not fit "
                               "the %zu bytes of a Unix socket address; use a state_dir of at "
                               "most %zu characters", state, max, max - extra);
        int r = mkdir_p(m->sandboxes_dir, 0700);
        if (r < 0)
                return err_set(e, -r, "cannot create %s: %s", m->sandboxes_dir, strerror(-r));
        return lock_state_dir(m, state, e);
}

static int setup_boot(Manager *m, Err *e)
{
        const Settings *s = m->s;
        if (!s->kernel || !s->kernel[0])
                return err_set(e, EINVAL, "kernel is not set");
        m->kernel = image_path(s, s->kernel);
        m->initrd = image_path(s, s->initrd);
        m->pack_rootfs = calloc(s->n_packs + 1, sizeof(char *));
        unsigned port = s->agent_port ? s->agent_port : AGENT_DEFAULT_PORT;
        bool extra = s->boot_args && s->boot_args[0];
        /* later keys win in the guest, so the operator's boot_args come last */
        int n = asprintf(&m->boot_args,
                         "console=ttyS0 reboot=k panic=1 ember.root=/dev/vda ember.port=%u%s%s",
                         port, extra ? " " : "", extra ? s->boot_args : "");
        if (n < 0)
                m->boot_args = NULL;
        if (!m->kernel || (s->initrd && s->initrd[0] && !m->initrd) || !m->pack_rootfs ||
            !m->boot_args)
                return err_set(e, ENOMEM, "out of memory");
        if (n > MANAGER_BOOT_ARGS_MAX)
                return err_set(e, EINVAL, "boot_args: the kernel command line would be %d bytes, "
                                          "over %d", n, MANAGER_BOOT_ARGS_MAX);
        for (size_t i = 0; i < s->n_packs; i++)
                if (s->packs[i].rootfs && s->packs[i].rootfs[0] &&
                    !(m->pack_rootfs[i] = image_path(s, s->packs[i].rootfs)))
                        return err_set(e, ENOMEM, "out of memory");
        m->agent_port = port;
        m->boot = (SandboxBoot){
                .vmm_argv = (const char *const *)m->vmm_argv,
                .kernel = m->kernel,
                .initrd = m->initrd,
                .boot_args = m->boot_args,
                .boot_timeout_ms = s->boot_timeout_ms ? s->boot_timeout_ms : 30000,
                .jail = m->jail.jailed ? &m->jail.jail : NULL,
                .cgroup = m->jail.cgroup.version ? &m->jail.cgroup : NULL,
        };
        return 0;
}

static void *reaper_main(void *arg);
static int recover(Manager *m, Err *e);

int manager_new(const Settings *s, Manager **ret, Err *e)
{
        Manager *m = calloc(1, sizeof(*m));
        if (!m)
                return err_set(e, ENOMEM, "out of memory");
        m->s = s;
        m->lock_fd = -1;
        pthread_mutex_init(&m->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&m->wake, &ca);
        pthread_condattr_destroy(&ca);
        int r = vmm_select(s, &m->kind, &m->vmm_argv, e);
        if (r >= 0)
                r = vmm_select_jail(s, m->kind, (const char *const *)m->vmm_argv, &m->jail, e);
        if (r >= 0)
                r = setup_dirs(m, e);
        if (r >= 0)
                r = setup_boot(m, e);
        if (r >= 0)
                r = recover(m, e);
        if (r >= 0) {
                r = -pthread_create(&m->reaper, NULL, reaper_main, m);
                if (r < 0)
                        err_set(e, -r, "cannot start the TTL reaper: %s", strerror(-r));
                m->reaper_running = r >= 0;
        }
        if (r < 0) {
                manager_free(m);
                return r;
        }
        log_info("sandbox manager: vmm=%s (%s), state in %s", vmm_kind_name(m->kind),
                 m->vmm_argv[0], m->sandboxes_dir);
        static const char *const cgroup_names[] = {"none", "v1", "v2"};
        log_info("sandbox manager: jailer %s, host cgroup %s", m->jail.jailed ? m->jail.jailer : "none",
                 cgroup_names[m->jail.cgroup.version]);
        *ret = m;
        return 0;
}

/* ---- map (m->lock held) ---- */

static ssize_t map_find(Manager *m, const char *id)
{
        for (size_t i = 0; id && i < m->n; i++)
                if (!strcmp(m->map[i]->id, id))
                        return (ssize_t)i;
        return -1;
}

static int map_add(Manager *m, Sandbox *sb)
{
        if (m->n == m->alloc) {
                size_t na = MAX(m->alloc * 2, (size_t)16);
                Sandbox **nm = realloc(m->map, na * sizeof(*nm));
                if (!nm)
                        return -ENOMEM;
                m->map = nm;
                m->alloc = na;
        }
        m->map[m->n++] = sb;
        return 0;
}

/* Removes sb if it is still in the map; true when this call removed it. */
static bool map_remove(Manager *m, Sandbox *sb)
{
        for (size_t i = 0; i < m->n; i++)
                if (m->map[i] == sb) {
                        m->map[i] = m->map[--m->n];
                        return true;
                }
        return false;
}

/* Takes a reference on the sandbox named id; -ENOENT when there is none. */
static int map_ref(Manager *m, const char *id, Sandbox **ret, Err *e)
{
        pthread_mutex_lock(&m->lock);
        ssize_t i = map_find(m, id);
        if (i >= 0)
                m->map[i]->refs++;
        *ret = i >= 0 ? m->map[i] : NULL;
        pthread_mutex_unlock(&m->lock);
        return i >= 0 ? 0 : err_set(e, ENOENT, "no sandbox '%s'", id ? id : "");
}

/* Drops a reference; the last one tears the VM down and frees (outside the lock). */
static void unref(Manager *m, Sandbox *sb)
{
        pthread_mutex_lock(&m->lock);
        bool last = --sb->refs == 0;
        pthread_mutex_unlock(&m->lock);
        if (last)
                sandbox_free(sb);
}

/* ---- create ---- */

static int check_env(const char *const *env, Err *e)
{
        size_t n = 0;
        for (; env && env[n]; n++) {
                const char *eq = strchr(env[n], '=');
                if (!eq || eq == env[n])
                        return err_set(e, EINVAL, "env: entry %zu is not KEY=VALUE", n);
                if (strlen(env[n]) >= PROTO_MAX_STRING)
                        return err_set(e, EINVAL, "env: entry %zu is too long", n);
        }
        if (n > SANDBOX_ENV_MAX)
                return err_set(e, EINVAL, "env: more than %u variables", SANDBOX_ENV_MAX);
        return 0;
}

static int unknown_pack(const Settings *s, const char *name, Err *e)
{
        char known[512] = "";
        size_t o = 0;
        for (size_t i = 0; i < s->n_packs && o < sizeof(known); i++)
                o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
                                      s->packs[i].name);
        return err_setc(e, EINVAL, "unknown_language_pack",
                        "unknown language pack '%.63s'; known packs: %s", name ? name : "",
                        s->n_packs ? known : "(none)");
}

/* Resolves defaults and checks limits. */
static int check_spec(const Manager *m, const SandboxSpec *spec, SandboxParams *ret, Err *e)
{
        const Settings *s = m->s;
        if (!spec->language_pack || !spec->language_pack[0])
                return err_set(e, EINVAL, "language_pack: required");
        const Pack *p = settings_find_pack(s, spec->language_pack);
        if (!p)
                return unknown_pack(s, spec->language_pack, e);
        SandboxParams sp = {
                .pack = p,
                .rootfs = m->pack_rootfs[p - s->packs],
                .env = spec->env,
                .vcpus = spec->vcpus ? spec->vcpus : p->vcpus ? p->vcpus : 1,
                .memory_mib = spec->memory_mib ? spec->memory_mib
                              : p->memory_mib  ? p->memory_mib
                                               : MANAGER_DEFAULT_MEMORY_MIB,
                /* the server default (0 = none) is the operator's choice */
                .ttl_s = spec->ttl_set ? spec->ttl_s : s->default_ttl_s,
                .agent_port = m->agent_port,
                .vmm_name = vmm_kind_name(m->kind),
        };
        unsigned max_vcpus = s->max_vcpus ? s->max_vcpus : MANAGER_DEFAULT_VCPU_MAX;
        if (sp.vcpus > max_vcpus)
                return err_set(e, EINVAL, "vcpus: %u is over the maximum of %u", sp.vcpus,
                               max_vcpus);
        if (s->max_memory_mib && sp.memory_mib > s->max_memory_mib)
                return err_set(e, EINVAL, "memory_mib: %u is over the maximum of %u",
                               sp.memory_mib, s->max_memory_mib);
        /* a client's ttl_s of 0 asks for no expiry, which a maximum forbids */
        if (spec->ttl_set && s->max_ttl_s && (sp.ttl_s == 0 || sp.ttl_s > s->max_ttl_s))
                return err_set(e, EINVAL, "ttl_s: must be between 1 and %u", s->max_ttl_s);
        *ret = sp;
        return check_env(spec->env, e);
}

/* Reserves a slot (capacity counts sandboxes still booting) and inserts a new sandbox
 * holding two references: the map's and the creator's. */
static int reserve(Manager *m, const SandboxParams *sp, Sandbox **ret, Err *e)
{
        pthread_mutex_lock(&m->lock);
        int r = 0;
        Sandbox *sb = NULL;
        char id[SANDBOX_ID_MAX];
        if (m->s->max_sandboxes && m->n >= m->s->max_sandboxes)
                r = err_setc(e, EAGAIN, "capacity_reached",
                             "capacity reached: %u sandboxes exist (max_sandboxes)",
                             m->s->max_sandboxes);
        while (r >= 0 && (r = sandbox_id_new(id)) >= 0 && map_find(m, id) >= 0)
                ;
        if (r >= 0 && (r = sandbox_new(id, m->sandboxes_dir, sp, &sb)) >= 0 &&
            (r = map_add(m, sb)) >= 0)
                sb->refs = 2;
        pthread_mutex_unlock(&m->lock);
        if (r < 0 && sb)
                sandbox_free(sb);
        if (r < 0 && r != -EAGAIN)
                return err_set(e, -r, "cannot create a sandbox: %s", strerror(-r));
        if (r >= 0)
                *ret = sb;
        return r;
}

/* After the boot: ready, or out of the map and counted as failed. */
static int finish_create(Manager *m, Sandbox *sb, int r, int64_t now, Err *e)
{
        pthread_mutex_lock(&m->lock);
        if (r >= 0 && sandbox_set_ready(sb, now) < 0)
                r = err_set(e, EHOSTDOWN, "the sandbox was deleted while it was booting");
        if (r < 0) {
                if (map_remove(m, sb))
                        sb->refs--; /* the map's reference; the creator's is dropped below */
                (void)sandbox_set_state(sb, SANDBOX_FAILED);
                m->st.create_failed_total++;
        } else {
                m->st.created_total++;
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* A full disk under the state dir is the host's problem, not the VM's: 507, not 502. */
static int create_error(int r, Err *e)
{
        bool storage = r == -ENOSPC || r == -EDQUOT;
        if (e) {
                e->errnum = storage ? -r : EHOSTDOWN;
                e->code = storage ? "insufficient_storage" : "vm_boot_failed";
        }
        return storage ? r : -EHOSTDOWN;
}

int manager_create(Manager *m, const SandboxSpec *spec, SandboxInfo *ret, Err *e)
{
        SandboxParams sp;
        Sandbox *sb = NULL;
        int r = check_spec(m, spec, &sp, e);
        if (r >= 0)
                r = reserve(m, &sp, &sb, e);
        if (r < 0)
                return r;
        r = sandbox_boot(sb, &m->boot, e);
        int64_t now = sandbox_epoch_ms();
        /* the record says ready (with its expiry) before the client can hear it */
        if (r >= 0)
                r = record_write(sb, SANDBOX_READY, sb->ttl_s ? now + (int64_t)sb->ttl_s * 1000 : 0,
                                 e);
        r = finish_create(m, sb, r, now, e);
        if (r < 0) {
                log_warn("sandbox=%s boot failed: %s", sb->id, e ? e->msg : "");
                unref(m, sb); /* tears down: no process, socket or directory left */
                return create_error(r, e);
        }
        sandbox_info(sb, ret);
        log_info("sandbox=%s created pack=%s vmm=%s boot_ms=%u ready_ms=%u", sb->id,
                 sb->pack->name, sb->vmm, ret->boot_ms, ret->ready_ms);
        unref(m, sb);
        return 0;
}

/* ---- get, list, exec, delete ---- */

int manager_get(Manager *m, const char *id, SandboxInfo *ret, Err *e)
{
        Sandbox *sb;
        int r = map_ref(m, id, &sb, e);
        if (r < 0)
                return r;
        sandbox_info(sb, ret);
        unref(m, sb);
        return 0;
}

int manager_list(Manager *m, SandboxInfo **ret, size_t *ret_n)
{
        pthread_mutex_lock(&m->lock);
        SandboxInfo *v = calloc(m->n ? m->n : 1, sizeof(*v));
        for (size_t i = 0; v && i < m->n; i++)
                sandbox_info(m->map[i], &v[i]);
        size_t n = m->n;
        pthread_mutex_unlock(&m->lock);
        if (!v)
                return -ENOMEM;
        *ret = v;
        *ret_n = n;
        return 0;
}

static int exec_refused(Sandbox *sb, Err *e)
{
        SandboxState s = sandbox_get_state(sb);
        if (s == SANDBOX_CREATING)
                return err_set(e, EBUSY, "sandbox '%s' is still booting", sb->id);
        if (s == SANDBOX_DELETING)
                return err_set(e, ENOENT, "no sandbox '%s'", sb->id);
        return s == SANDBOX_FAILED ? err_set(e, EHOSTDOWN, "sandbox '%s' has failed: its VM is "
                                                           "not running", sb->id)
                                   : 0;
}

int manager_exec(Manager *m, const char *id, const ExecRequest *req, ExecResult *ret, Err *e)
{
        Sandbox *sb;
        int r = map_ref(m, id, &sb, e);
        if (r < 0)
                return r;
        r = exec_refused(sb, e);
        if (r >= 0)
                r = sandbox_exec(sb, req, m->s->output_cap, ret, e);
        pthread_mutex_lock(&m->lock);
        m->st.execs_total++;
        if (r < 0)
                m->st.exec_failed_total++;
        if (r == -ETIMEDOUT || (r >= 0 && ret->timed_out))
                m->st.exec_timeouts_total++;
        pthread_mutex_unlock(&m->lock);
        if (r < 0 && r != -EINVAL)
                log_warn("sandbox=%s exec failed: %s", sb->id, e ? e->msg : "");
        if (r < 0)
                sandbox_teardown_failed(sb); /* only if its VM died: nothing of it is left */
        unref(m, sb);
        return r;
}

/* Out of the map at once (a second delete is 404), VM down now, memory when unused. */
static void delete_taken(Manager *m, Sandbox *sb, const char *why)
{
        SandboxState prev = sandbox_delete(sb);
        log_info("sandbox=%s %s (was %s)", sb->id, why, sandbox_state_name(prev));
        unref(m, sb);
}

int manager_delete(Manager *m, const char *id, Err *e)
{
        pthread_mutex_lock(&m->lock);
        ssize_t i = map_find(m, id);
        Sandbox *sb = i >= 0 ? m->map[i] : NULL;
        if (sb) {
                map_remove(m, sb);
                m->st.deleted_total++;
        }
        pthread_mutex_unlock(&m->lock);
        if (!sb)
                return err_set(e, ENOENT, "no sandbox '%s'", id ? id : "");
        delete_taken(m, sb, "deleted");
        return 0;
}

void manager_stats(Manager *m, ManagerStats *ret)
{
        pthread_mutex_lock(&m->lock);
        *ret = m->st;
        ret->sandboxes = (unsigned)m->n;
        pthread_mutex_unlock(&m->lock);
}

const char *manager_vmm_name(Manager *m) { return vmm_kind_name(m->kind); }

void exec_result_free(ExecResult *r)
{
        if (!r)
                return;
        buf_free(&r->out);
        buf_free(&r->err);
}

/* ---- restart recovery ---- */

static int recover_check(void *ud, const SandboxRecord *rec, Err *e)
{
        Manager *m = ud;
        if (!settings_find_pack(m->s, rec->pack))
                return err_set(e, ENOENT, "language pack '%s' is no longer configured", rec->pack);
        return 0;
}

static int recover_adopt(void *ud, const SandboxRecord *rec, Err *e)
{
        Manager *m = ud;
        const Pack *p = settings_find_pack(m->s, rec->pack);
        SandboxParams sp = {
                .pack = p,
                .rootfs = m->pack_rootfs[p - m->s->packs],
                .env = (const char *const *)rec->env,
                .vcpus = rec->vcpus,
                .memory_mib = rec->memory_mib,
                .ttl_s = rec->ttl_s,
                .agent_port = rec->agent_port,
                .vmm_name = rec->vmm,
        };
        Sandbox *sb = NULL;
        int r = sandbox_new(rec->id, m->sandboxes_dir, &sp, &sb);
        if (r < 0)
                return err_set(e, -r, "out of memory"); /* the /proc scan kills its VMM */
        r = sandbox_adopt(sb, &m->boot, rec, e);
        if (r >= 0) {
                pthread_mutex_lock(&m->lock);
                r = map_add(m, sb);
                if (r >= 0)
                        sb->refs = 1; /* the map's */
                pthread_mutex_unlock(&m->lock);
                if (r < 0)
                        err_set(e, -r, "out of memory");
        }
        if (r < 0)
                sandbox_free(sb); /* kills what was adopted, removes the directory */
        return r;
}

static int recover(Manager *m, Err *e)
{
        RecoveryParams p = {
                .sandboxes_dir = m->sandboxes_dir,
                .now_epoch_ms = sandbox_epoch_ms(),
                .boot = &m->boot,
                .jail = m->jail.jailed ? &m->jail : NULL,
                .check = recover_check,
                .adopt = recover_adopt,
                .ud = m,
        };
        RecoveryStats st = {0};
        int r = recovery_run(&p, &st);
        if (r < 0)
                return err_set(e, -r, "recovery in %s: %s", m->sandboxes_dir, strerror(-r));
        if (st.adopted || st.removed || st.killed)
                log_warn("restart recovery: %u sandboxes re-adopted, %u removed, %u VMMs killed",
                         st.adopted, st.removed, st.killed);
        return 0;
}

/* ---- the reaper: TTL, and VMs that died ---- */

/* Takes expired sandboxes out of the map (lock held); returns how many, up to max. */
static size_t take_expired(Manager *m, Sandbox **out, size_t max)
{
        int64_t now = sandbox_epoch_ms();
        size_t k = 0;
        for (size_t i = 0; i < m->n && k < max;) {
                Sandbox *sb = m->map[i];
                if (sandbox_expired(sb, now)) {
                        out[k++] = sb;
                        m->map[i] = m->map[--m->n];
                        m->st.expired_total++;
                } else {
                        i++;
                }
        }
        return k;
}

/* Ready sandboxes whose VMM exited become failed; returns them referenced (lock held). The
 * check is a zero-timeout poll of each pidfd: no VMM call, nothing that can block. */
static size_t ref_died(Manager *m, Sandbox **out, size_t max)
{
        size_t k = 0;
        for (size_t i = 0; i < m->n && k < max; i++)
                if (sandbox_check_vm(m->map[i])) {
                        m->map[i]->refs++;
                        out[k++] = m->map[i];
                }
        return k;
}

static void *reaper_main(void *arg)
{
        Manager *m = arg;
        pthread_mutex_lock(&m->lock);
        while (!m->stopping) {
                Sandbox *batch[32], *died[32];
                size_t k = take_expired(m, batch, ELEMENTSOF(batch));
                size_t d = ref_died(m, died, ELEMENTSOF(died));
                pthread_mutex_unlock(&m->lock);
                for (size_t i = 0; i < k; i++)
                        delete_taken(m, batch[i], "expired");
                for (size_t i = 0; i < d; i++) {
                        log_warn("sandbox=%s failed: its VMM exited", died[i]->id);
                        sandbox_teardown_failed(died[i]);
                        unref(m, died[i]);
                }
                pthread_mutex_lock(&m->lock);
                if (k == ELEMENTSOF(batch) || m->stopping)
                        continue;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += MANAGER_REAPER_PERIOD_MS / 1000;
                pthread_cond_timedwait(&m->wake, &m->lock, &ts);
        }
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

void manager_free(Manager *m)
{
        if (!m)
                return;
        if (m->reaper_running) {
                pthread_mutex_lock(&m->lock);
                m->stopping = true;
                pthread_cond_signal(&m->wake);
                pthread_mutex_unlock(&m->lock);
                pthread_join(m->reaper, NULL);
        }
        /* callers stopped first: nothing else touches the map now. Every VM is asked to
         * stop before any is waited for, so the grace periods run in parallel. */
        for (size_t i = 0; i < m->n; i++)
                sandbox_request_stop(m->map[i]);
        while (m->n > 0) {
                Sandbox *sb = m->map[--m->n];
                delete_taken(m, sb, "deleted at shutdown");
        }
        free(m->map);
        for (size_t i = 0; m->pack_rootfs && i < m->s->n_packs; i++)
                free(m->pack_rootfs[i]);
        free(m->pack_rootfs);
        vmm_select_free(m->vmm_argv);
        vmm_select_jail_free(&m->jail);
        free(m->sandboxes_dir);
        free(m->kernel);
        free(m->initrd);
        free(m->boot_args);
        closep(&m->lock_fd);
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
}
