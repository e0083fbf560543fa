/* fc-stray.h — restart recovery's last resort for jailed VMMs: kill the jailers and jailed
 * processes of a previous emberd that no pid file or record names (it was killed while a
 * jailer ran). Knows nothing of sandboxes beyond their "sb-" ids; never logs. */
#pragma once
#include <stdbool.h>

#include "fc-jail.h"

/* keep(ud, id): true for a sandbox that must live (re-adopted); NULL = none. */
typedef bool (*FcStrayKeep)(void *ud, const char *id);

/* Kills, and waits up to 2 s for, each process that is a jailer working on a jail under
 * chroot_base (--chroot-base-dir chroot_base --id sb-...), or whose root directory is one of
 * the jails <chroot_base>/<exec_name>/sb-* (same device and inode), or whose root mount is
 * one, even removed (mountinfo), unless keep() claims its id; again while a pass kills.
 * Then removes its host cgroup <cg->parent>/<id> (cg may be NULL). Returns how many, or
 * -errno. Call before the jails are removed. */
int fc_stray_kill_jailed(const char *chroot_base, const char *exec_name,
                         const FcCgroupConfig *cg, FcStrayKeep keep, void *ud);
