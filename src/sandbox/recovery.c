/* recovery.c — restart recovery (see recovery.h), in passes over a list of the sb-* entries
 * taken first: records (adopt, or kill the recorded VMM); then what has no usable record (a
 * crash between spawn and the first record, a record lost or corrupt): a /proc scan for VMMs
 * naming an API socket under the sandboxes directory, and for jailed ones the jail sweep
 * (jailers at work, jailed roots, pid files); then the host cgroups, jails and directories
 * of everything not adopted — directories last, so an interrupted recovery can resume.
 *
 * Recovery does not rely on PR_SET_CHILD_SUBREAPER and could not: a restarted emberd is not an
 * ancestor of the VMMs it adopts, so they never become its children (a jailed launch makes
 * emberd a subreaper only so that its own jailed VMMs stay its children: fc-vm.c). Adopted
 * VMMs are watched (POLLIN at exit) and killed through a pidfd; their zombies are reaped by
 * init or by the subreaper above emberd (docs/design.md §4). */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>

#include "../shared/log.h"
#include "../shared/util.h"

#define RECOVERY_MAX_ENTRIES 65536u /* sb-* entries considered; more is not ours to guess */
#define RECOVERY_KILL_WAIT_MS 2000  /* a SIGKILLed stray VMM: wait this long for its exit */

typedef struct Recovery {
        const char *dir;
        const RecoveryParams *p;
        char **names;
        bool *adopted;
        size_t n;
        RecoveryStats st;
} Recovery;

static int list_entries(Recovery *rc)
{
        DIR *d = opendir(rc->dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        size_t alloc = 0;
        int r = 0;
        for (struct dirent *de; rc->n < RECOVERY_MAX_ENTRIES && (de = readdir(d));) {
                if (strncmp(de->d_name, "sb-", 3) != 0)
                        continue;
                if (rc->n == alloc) {
                        alloc = MAX(alloc * 2, (size_t)16);
                        char **nn = realloc(rc->names, alloc * sizeof(char *));
                        bool *na = nn ? realloc(rc->adopted, alloc * sizeof(bool)) : NULL;
                        if (nn)
                                rc->names = nn;
                        if (na)
                                rc->adopted = na;
                        if (!nn || !na) {
                                r = -ENOMEM;
                                break;
                        }
                }
                rc->adopted[rc->n] = false;
                if (!(rc->names[rc->n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                rc->n++;
        }
        closedir(d);
        return r;
}

/* The VM of sandbox id as this run would launch it: where its jail and cgroup are. */
static FcVmConfig vm_config(const Recovery *rc, const char *path, const char *id)
{
        const SandboxBoot *b = rc->p->boot;
        return (FcVmConfig){.dir = path, .id = id, .argv = b->vmm_argv, .jail = b->jail,
                            .cgroup = b->cgroup};
}

/* A recorded VMM that will not be re-adopted: kill it (after its stop grace) if it is still
 * the recorded process, with its cgroup, jail and directory. */
static void kill_recorded(Recovery *rc, const char *path, const SandboxRecord *rec)
{
        FcVmConfig c = vm_config(rc, path, rec->id);
        FcVm *vm = NULL;
        if (fc_vm_adopt(&c, rec->vm, &vm, NULL) < 0)
                return;
        fc_vm_free(vm); /* SendCtrlAltDel if started, SIGKILL, directory, jail, cgroup removed */
        rc->st.killed++;
}

/* Why rec is not re-adoptable, or NULL. */
static const char *not_adoptable(Recovery *rc, const SandboxRecord *rec, Err *e)
{
        if (rec->state != SANDBOX_READY)
                return "it was still booting";
        if (rec->expires_at_ms && rc->p->now_epoch_ms >= rec->expires_at_ms)
                return "its TTL ran out";
        return rc->p->check(rc->p->ud, rec, e) < 0 ? e->msg : NULL;
}

static bool recover_one(Recovery *rc, const char *name)
{
        _cleanup_free_ char *path = NULL;
        if (!record_id_valid(name) || asprintf(&path, "%s/%s", rc->dir, name) < 0)
                return false;
        SandboxRecord rec;
        Err e = {0};
        if (record_read(path, name, &rec, &e) < 0) {
                log_warn("sandbox=%s: no usable record (%s): removed", name, e.msg);
                return false;
        }
        const char *why = not_adoptable(rc, &rec, &e);
        bool ok = false;
        if (why) {
                log_info("sandbox=%s not re-adopted: %s", name, why);
                kill_recorded(rc, path, &rec);
        } else if (rc->p->adopt(rc->p->ud, &rec, &e) < 0) {
                log_warn("sandbox=%s not re-adopted: %s", name, e.msg);
                rc->st.killed += e.errnum != ESRCH; /* alive but not answering: killed */
        } else {
                log_info("sandbox=%s re-adopted (pack=%s vmm=%s)", name, rec.pack, rec.vmm);
                ok = true;
        }
        record_clear(&rec);
        return ok;
}

static bool is_adopted(void *ud, const char *name)
{
        Recovery *rc = ud;
        for (size_t i = 0; i < rc->n; i++)
                if (rc->adopted[i] && !strcmp(rc->names[i], name))
                        return true;
        return false;
}

static int kill_stray(void *ud, const char *name, int pidfd)
{
        Recovery *rc = ud;
        if (is_adopted(rc, name) || pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0)
                return 0;
        (void)fd_wait_readable(pidfd, now_ms() + RECOVERY_KILL_WAIT_MS);
        FcVmConfig c = vm_config(rc, NULL, name);
        fc_vm_remove_leftovers(&c); /* its host cgroup, even when its directory is gone */
        log_warn("sandbox=%s: killed a VMM that had no usable record", name);
        rc->st.killed++;
        return 0;
}

static void recovery_free(Recovery *rc)
{
        for (size_t i = 0; i < rc->n; i++)
                free(rc->names[i]);
        free(rc->names);
        free(rc->adopted);
}

/* Whatever of a sandbox that was not adopted: its host cgroup, jail, then directory. */
static void remove_leftovers(Recovery *rc, const char *name)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", rc->dir, name) < 0)
                return;
        FcVmConfig c = vm_config(rc, path, name);
        fc_vm_remove_leftovers(&c);
        (void)rm_rf(path); /* a VMM's teardown may have removed it already */
        rc->st.removed++;
}

int recovery_run(const RecoveryParams *p, RecoveryStats *ret)
{
        Recovery rc = {.dir = p->sandboxes_dir, .p = p};
        int r = list_entries(&rc);
        for (size_t i = 0; r >= 0 && i < rc.n; i++)
                rc.adopted[i] = recover_one(&rc, rc.names[i]);
        if (r >= 0)
                r = fc_vm_scan(rc.dir, kill_stray, &rc);
        if (r >= 0 && p->jail)
                vmm_select_jail_sweep(p->jail, is_adopted, &rc);
        for (size_t i = 0; r >= 0 && i < rc.n; i++)
                if (!rc.adopted[i])
                        remove_leftovers(&rc, rc.names[i]);
                else
                        rc.st.adopted++;
        *ret = rc.st;
        recovery_free(&rc);
        return r;
}
