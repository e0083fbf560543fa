/* cgtest.h — a throw-away cgroup v2 directory for the guest tests, on this host's own
 * cgroup2 hierarchy: ember-test-<pid> under the test's own cgroup. Where that hierarchy has
 * no memory/pids controllers (a cgroup v1 host) it still has cgroup.procs, cgroup.kill,
 * cgroup.events and cpu.stat, which is what kill, accounting and removal need.
 * cgtest_remove() kills whatever is left in it and removes it with its children. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct CgTest {
        char path[512];
        int fd;           /* directory fd of path, or -1 */
        bool controllers; /* memory and pids are available for it */
} CgTest;

/* -errno when this host offers no writable cgroup2 (the caller skips those checks). */
int cgtest_create(CgTest *t);
void cgtest_remove(CgTest *t);
/* The cgroup2 path of a process relative to the hierarchy's root ("" when unknown). */
void cgtest_path_of(int pid, char *out, size_t size);
