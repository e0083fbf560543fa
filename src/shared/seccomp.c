/* seccomp.c — see seccomp.h: a libseccomp context with default action EPERM, one rule per
 * allowed name, argument-pinned rules, and the kill list; loaded into one thread or all. */
#include "ember-seccomp.h"

#include "log.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif

bool seccomp_sanitizer_build(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
        __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
        return true;
#else
        return false;
#endif
}

static int add_names(scmp_filter_ctx ctx, const char *const *names, uint32_t action, Err *e)
{
        for (size_t i = 0; names[i]; i++) {
                int nr = seccomp_syscall_resolve_name(names[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture (seccomp_policy_check reports it) */
                int r = seccomp_rule_add(ctx, action, nr, 0);
                if (r < 0 && r != -EEXIST)
                        return err_set(e, -r, "seccomp: rule for %s: %s", names[i], strerror(-r));
        }
        return 0;
}

static int build(scmp_filter_ctx ctx, const SeccompPolicy *p, Err *e)
{
        int r = 0;
        for (size_t t = 0; r >= 0 && p->allow[t]; t++)
                r = add_names(ctx, p->allow[t], SCMP_ACT_ALLOW, e);
        for (size_t i = 0; r >= 0 && i < p->n_allow_if; i++) {
                const SeccompArgRule *a = &p->allow_if[i];
                int nr = seccomp_syscall_resolve_name(a->name);
                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                     SCMP_CMP64(a->arg, SCMP_CMP_EQ, a->value));
                if (r < 0)
                        err_set(e, -r, "seccomp: rule for %s: %s", a->name, strerror(-r));
        }
        if (r >= 0)
                r = add_names(ctx, seccomp_kill_list, SCMP_ACT_KILL_PROCESS, e);
        if (r >= 0 && p->tsync && (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
                err_set(e, -r, "seccomp: thread sync: %s", strerror(-r));
        return r;
}

int seccomp_install(const SeccompPolicy *p, Err *e)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return err_set(e, ENOMEM, "seccomp: cannot create a filter");
        int r = build(ctx, p, e);
        if (r >= 0 && (r = seccomp_load(ctx)) < 0)
                err_set(e, -r, "seccomp: cannot load the %s filter: %s", p->name, strerror(-r));
        seccomp_release(ctx);
        return r < 0 ? r : 0;
}

int seccomp_vmm(const char *engine)
{
        const SeccompPolicy *p = seccomp_policy_vmm(engine);
        Err e = {0};
        if (seccomp_sanitizer_build()) {
                log_info("seccomp: no %s filter in a sanitizer build", p->name);
                return 0;
        }
        if (seccomp_install(p, &e) < 0) {
                log_error("%s", e.msg);
                return -1;
        }
        log_debug("seccomp: %s filter installed", p->name);
        return 0;
}

static bool in_list(const char *const *names, const char *n)
{
        for (size_t i = 0; names[i]; i++)
                if (!strcmp(names[i], n))
                        return true;
        return false;
}

static int problem(char *out, size_t size, int n, const char *what, const char *name)
{
        size_t len = strlen(out);
        if (len < size)
                snprintf(out + len, size - len, "%s%s %s", len ? "; " : "", what, name);
        return n + 1;
}

int seccomp_policy_check(const SeccompPolicy *p, char *out, size_t size)
{
        int n = 0;
        if (size)
                out[0] = 0;
        for (size_t t = 0; p->allow[t]; t++)
                for (size_t i = 0; p->allow[t][i]; i++) {
                        const char *name = p->allow[t][i];
                        if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
                                n = problem(out, size, n, "unknown syscall", name);
                        if (in_list(seccomp_kill_list, name))
                                n = problem(out, size, n, "allowed and killed:", name);
                }
        for (size_t i = 0; i < p->n_allow_if; i++)
                if (seccomp_syscall_resolve_name(p->allow_if[i].name) == __NR_SCMP_ERROR)
                        n = problem(out, size, n, "unknown syscall", p->allow_if[i].name);
        for (size_t i = 0; seccomp_kill_list[i]; i++)
                if (seccomp_syscall_resolve_name(seccomp_kill_list[i]) == __NR_SCMP_ERROR)
                        n = problem(out, size, n, "unknown syscall", seccomp_kill_list[i]);
        return n;
}
