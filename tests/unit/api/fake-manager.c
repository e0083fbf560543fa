/* fake-manager.c — see fake-manager.h. Implements every function of manager.h over a
 * small array guarded by one mutex; exec can block on a condition variable so tests can
 * show that a slow exec does not hold up other requests. */
#include "fake-manager.h"
#include "sandbox/vmm-select.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX 64

struct Manager {
        const Settings *s;
        SandboxInfo boxes[FAKE_MAX];
        size_t n;
        ManagerStats st;
        unsigned next_id;
};

FakeExec fake_exec;
int fake_create_errno;
const char *fake_create_code;
ExecRequest fake_last_exec;
SandboxSpec fake_last_spec;
size_t fake_last_spec_n_env;
unsigned fake_exec_waiting;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool released;

void exec_result_free(ExecResult *r)
{
        buf_free(&r->out);
        buf_free(&r->err);
}

int manager_new(const Settings *s, Manager **ret, Err *e)
{
        Manager *m = calloc(1, sizeof(*m));
        if (!m)
                return err_set(e, ENOMEM, "oom");
        m->s = s;
        *ret = m;
        return 0;
}

void manager_free(Manager *m) { free(m); }

static SandboxInfo *find(Manager *m, const char *id)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->boxes[i].id, id) == 0)
                        return &m->boxes[i];
        return NULL;
}

int manager_create(Manager *m, const SandboxSpec *spec, SandboxInfo *ret, Err *e)
{
        pthread_mutex_lock(&mu);
        fake_last_spec = *spec;
        fake_last_spec_n_env = 0;
        while (spec->env && spec->env[fake_last_spec_n_env])
                fake_last_spec_n_env++;
        int r = 0;
        char known[256] = ""; /* like the real manager, which owns this check */
        bool found = false;
        for (size_t i = 0, o = 0; i < m->s->n_packs && o < sizeof(known); i++) {
                found = found || strcmp(m->s->packs[i].name, spec->language_pack) == 0;
                o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
                                      m->s->packs[i].name);
        }
        if (!found) {
                pthread_mutex_unlock(&mu);
                return err_setc(e, EINVAL, "unknown_language_pack",
                                "unknown language pack '%s'; known packs: %s", spec->language_pack,
                                known);
        }
        if (fake_create_errno)
                r = err_setc(e, fake_create_errno, fake_create_code, "fake create failure");
        else if (m->n >= FAKE_MAX || m->n >= m->s->max_sandboxes)
                r = err_setc(e, EAGAIN, "capacity_reached", "all %u sandboxes in use",
                             m->s->max_sandboxes);
        if (r < 0) {
                m->st.create_failed_total++;
                pthread_mutex_unlock(&mu);
                return r;
        }
        SandboxInfo *si = &m->boxes[m->n++];
        *si = (SandboxInfo){.state = "ready", .vcpus = spec->vcpus ? spec->vcpus : 1,
                            .memory_mib = spec->memory_mib ? spec->memory_mib : 256,
                            .ttl_s = spec->ttl_s, .created_at_ms = 1700000000123,
                            .expires_at_ms = spec->ttl_s ? 1700000000123 + spec->ttl_s * 1000LL : 0,
                            .boot_ms = 5, .ready_ms = 7};
        snprintf(si->id, sizeof(si->id), "sb-%04u", ++m->next_id);
        snprintf(si->language_pack, sizeof(si->language_pack), "%s", spec->language_pack);
        snprintf(si->vmm, sizeof(si->vmm), "process");
        m->st.created_total++;
        *ret = *si;
        pthread_mutex_unlock(&mu);
        return 0;
}

int manager_get(Manager *m, const char *id, SandboxInfo *ret, Err *e)
{
        pthread_mutex_lock(&mu);
        SandboxInfo *si = find(m, id);
        if (si)
                *ret = *si;
        pthread_mutex_unlock(&mu);
        return si ? 0 : err_set(e, ENOENT, "no sandbox %s", id);
}

int manager_list(Manager *m, SandboxInfo **ret, size_t *ret_n)
{
        pthread_mutex_lock(&mu);
        *ret = calloc(m->n + 1, sizeof(SandboxInfo));
        if (*ret)
                memcpy(*ret, m->boxes, m->n * sizeof(SandboxInfo));
        *ret_n = m->n;
        pthread_mutex_unlock(&mu);
        return *ret ? 0 : -ENOMEM;
}

static void exec_block(void)
{
        fake_exec_waiting++;
        pthread_cond_broadcast(&cond);
        while (!released)
                pthread_cond_wait(&cond, &mu);
        fake_exec_waiting--;
}

int manager_exec(Manager *m, const char *id, const ExecRequest *req, ExecResult *ret, Err *e)
{
        pthread_mutex_lock(&mu);
        SandboxInfo *si = find(m, id);
        if (!si) {
                pthread_mutex_unlock(&mu);
                return err_set(e, ENOENT, "no sandbox %s", id);
        }
        fake_last_exec = *req;
        if (fake_exec.block)
                exec_block();
        si = find(m, id);
        if (si)
                si->execs++;
        m->st.execs_total++;
        m->st.exec_timeouts_total += fake_exec.timed_out;
        buf_init(&ret->out, 1 << 20);
        buf_init(&ret->err, 1 << 20);
        buf_append(&ret->out, fake_exec.out ? fake_exec.out : "", fake_exec.out_len);
        buf_append(&ret->err, fake_exec.err ? fake_exec.err : "", fake_exec.err_len);
        ret->exit_code = fake_exec.signal ? -1 : fake_exec.exit_code;
        ret->signal = fake_exec.signal;
        ret->timed_out = fake_exec.timed_out;
        ret->duration_ms = 12;
        ret->status = fake_exec.status ? fake_exec.status : "ok";
        ret->limits_enforced = fake_exec.limits_enforced;
        ret->cpu_time_ms = fake_exec.cpu_time_ms;
        ret->peak_memory_kib = fake_exec.peak_memory_kib;
        pthread_mutex_unlock(&mu);
        return 0;
}

void fake_exec_release(void)
{
        pthread_mutex_lock(&mu);
        released = true;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&mu);
}

void fake_exec_wait_blocked(unsigned n)
{
        pthread_mutex_lock(&mu);
        while (fake_exec_waiting < n)
                pthread_cond_wait(&cond, &mu);
        pthread_mutex_unlock(&mu);
}

int manager_delete(Manager *m, const char *id, Err *e)
{
        pthread_mutex_lock(&mu);
        SandboxInfo *si = find(m, id);
        if (si) {
                *si = m->boxes[--m->n];
                m->st.deleted_total++;
        }
        pthread_mutex_unlock(&mu);
        return si ? 0 : err_set(e, ENOENT, "no sandbox %s", id);
}

void manager_stats(Manager *m, ManagerStats *ret)
{
        pthread_mutex_lock(&mu);
        *ret = m->st;
        ret->sandboxes = (unsigned)m->n;
        pthread_mutex_unlock(&mu);
}

const char *manager_vmm_name(Manager *m) { return "process"; }
const char *vmm_select_accel(void) { return "none"; } /* src/sandbox/vmm-select.h, for /healthz */
