/* cgroup.h — one cgroup v2 per exec inside the guest. cgroup_init() (PID 1, VM mode) mounts
 * cgroup2 and prepares CGROUP_PARENT with the memory and pids controllers; each exec then
 * gets <parent>/exec-<handler pid> with its memory.max and pids.max, joined by the program
 * before execve, killed as a whole (cgroup.kill: setsid escapes a process group, not a
 * cgroup), read for the verdict and removed. Never fatal: without a usable hierarchy the
 * agent falls back to process groups and rusage and says so in the EXIT record. Must not
 * create anything in a hierarchy emberd-init does not own (the process engine shares the
 * host's kernel and cgroups). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/err.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"
#define CGROUP_PARENT "ember"
#define CGROUP_REMOVE_MS 2000 /* a killed exec's cgroup empties; past this it is left */
#define CGROUP_FILE_MAX 4096  /* every interface file we parse is far smaller */

/* VM mode: mounts cgroup2 on CGROUP_MOUNT (nsdelegate) unless one is there, requires
 * emberd-init to sit at its root, then cgroup_init_at(). Returns a directory fd of
 * CGROUP_PARENT (O_CLOEXEC), or -errno with e saying why limits will not be enforced. */
int cgroup_init(Err *e);
/* On a mounted hierarchy whose root is root_fd: requires the memory and pids controllers,
 * enables them (and cpu when present) for root_fd's children and for CGROUP_PARENT. */
int cgroup_init_at(int root_fd, Err *e);

typedef struct ExecCgroup {
        int parent_fd; /* borrowed */
        int dir_fd;    /* -1 = no cgroup for this exec */
        int procs_fd;  /* its cgroup.procs, for the child to join; -1 when none */
        bool enforced; /* memory.max and pids.max were set */
        char name[32];
} ExecCgroup;

typedef struct CgroupStats {
        bool have_cpu, have_peak;
        uint64_t cpu_usec; /* cpu.stat usage_usec: every process of the exec */
        uint64_t peak_kib; /* memory.peak */
        bool oom;          /* memory.events oom_kill > 0 */
        bool pids_limit;   /* pids.events max > 0 */
} CgroupStats;

void exec_cgroup_init(ExecCgroup *cg); /* empty: no cgroup */
/* mkdir <parent>/<name> (a stale one left by a dead handler with the same name is killed
 * and removed first), set memory.max (MiB; 0 = "max"), memory.swap.max 0, memory.oom.group 1
 * and pids.max (0 = "max"), open cgroup.procs. enforced says whether the limits took. */
int cgroup_exec_create(int parent_fd, const char *name, uint32_t memory_limit_mib,
                       uint32_t pids_limit, ExecCgroup *ret, Err *e);
/* In the forked child before execve: moves the caller into the cgroup. */
int cgroup_exec_join(int procs_fd);
/* SIGKILL to every process in it (cgroup.kill; else each pid of cgroup.procs). */
void cgroup_exec_kill(const ExecCgroup *cg);
/* Kills what is left, waits (CGROUP_REMOVE_MS at most) until it is empty, fills ret (may
 * be NULL), removes the cgroup and closes the fds. Idempotent. */
void cgroup_exec_finish(ExecCgroup *cg, CgroupStats *ret);

/* Parsers of interface files, pure. */
/* "key value" lines (cpu.stat, memory.events, pids.events, cgroup.events): -ENOENT. */
int cgroup_keyed(const char *text, const char *key, uint64_t *ret);
/* Is word one of the space-separated words of list (cgroup.controllers)? */
bool cgroup_has_word(const char *list, const char *word);
/* The cgroup2 path of "0::<path>" in /proc/<pid>/cgroup text, into out: -ENOENT. */
int cgroup_v2_path(const char *text, char *out, size_t size);
