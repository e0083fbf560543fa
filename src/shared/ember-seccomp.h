/* ember-seccomp.h — allow-list seccomp filters for emberd and ember-vmm (seccomp.c; the
 * header is not "seccomp.h", libseccomp's), built from tables of syscall names
 * (seccomp-policies.c) with libseccomp. Not part of libshared (the guest's
 * static musl build has no libseccomp): link libemberseccomp. Only seccomp_vmm() logs.
 * Anything not allowed fails with EPERM; a few calls that only an exploit makes kill the
 * whole process (docs/threat-model.md says why). A filter outlives execve: children inherit
 * it, which is why emberd spawns through an unfiltered thread (src/daemon/spawner.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct SeccompArgRule {
        const char *name;
        unsigned arg;             /* index of the argument compared */
        unsigned long long value; /* allowed only when arg == value */
} SeccompArgRule;

typedef struct SeccompPolicy {
        const char *name;                /* "emberd", "ember-vmm/process", ... */
        const char *const *const *allow; /* NULL-terminated list of NULL-terminated tables */
        const SeccompArgRule *allow_if;  /* allowed with one argument fixed */
        size_t n_allow_if;
        bool tsync;                      /* every thread of the process, not only the caller */
} SeccompPolicy;

/* Killed (SIGSYS) rather than refused: nothing ember runs has a use for them. */
extern const char *const seccomp_kill_list[];

extern const SeccompPolicy seccomp_policy_emberd;
/* ember-vmm, by engine: its own calls plus what its children (inheriting the filter) do. */
const SeccompPolicy *seccomp_policy_vmm(const char *engine);

/* Loads the policy into the calling thread (or all, with tsync). */
int seccomp_install(const SeccompPolicy *p, Err *e);
/* Sanity of a policy: every name is a syscall of this architecture, none is both allowed
 * and in the kill list. Returns the number of problems, each described in out (joined). */
int seccomp_policy_check(const SeccompPolicy *p, char *out, size_t size);
/* ember-vmm's one call: the policy of its engine, or a log line saying why none (a sanitizer
 * build). -1 after logging the error. */
int seccomp_vmm(const char *engine);
/* True in a sanitizer build (ASan/LSan/TSan need ptrace and more at exit): the daemons then
 * skip their filter and say so. */
bool seccomp_sanitizer_build(void);
