/* cgroup.h — host cgroups for a VMM, v1 and v2, the way Firecracker's jailer makes them
 * (FACTS §5): <mount>/<parent>/<id>, a value per "<controller>.<knob>" file, then the pid.
 * Mounts are read from a mounts file (/proc/mounts, or a fake one in tests), so every path
 * here can live under a test directory. Used by emberd (non-jailed VMMs, cleanup) and by
 * ember-jailer. Never logs; never touches a cgroup outside <mount>/<parent>. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../shared/err.h"

#define CGROUP_MOUNTS "/proc/mounts"
#define CGROUP_MAX_MOUNTS 32
#define CGROUP_MAX_FILES 16     /* --cgroup arguments per VMM */
#define CGROUP_VALUE_MAX 256    /* bytes of one value */
#define CGROUP_PARENT_DEPTH 16  /* components of --parent-cgroup */
#define CGROUP_RMDIR_WAIT_MS 2000 /* a killed VMM's last tasks leave asynchronously */

typedef struct CgroupMount {
        char *dir;
        char *opts; /* v1: the mount options, which name the controllers */
} CgroupMount;

typedef struct CgroupFs {
        int version;           /* 1 or 2 */
        char *unified;         /* v2: the cgroup2 mount */
        CgroupMount v1[CGROUP_MAX_MOUNTS];
        size_t n_v1;
} CgroupFs;

/* Reads the mounts of `version` from mounts_path (NULL = /proc/mounts); -ENOENT when that
 * version has no hierarchy ("No hierarchy found for this cgroup version."). */
int cgroup_fs_load(const char *mounts_path, int version, CgroupFs *ret, Err *e);
void cgroup_fs_free(CgroupFs *fs);

/* The version whose hierarchy offers every controller in `controllers` (NULL-terminated):
 * 2 when the cgroup2 mount's root cgroup.controllers lists them all, else 1 when v1 mounts
 * carry them all, else -ENOENT. A hybrid host (v1 controllers, an empty cgroup2) is 1. */
int cgroup_detect(const char *mounts_path, const char *const *controllers);

/* "memory.max" -> "memory"; -EINVAL unless the name is <controller>.<property>. */
int cgroup_controller_of(const char *file, char *out, size_t size);
/* A relative path of plain components (no ".", "..", empty or leading "/"). */
bool cgroup_parent_valid(const char *parent);

/* <mount of controller>/<parent>/<id>, malloc'd; -ENOENT when the controller is not mounted. */
int cgroup_dir(const CgroupFs *fs, const char *controller, const char *parent, const char *id,
               char **ret);
/* Creates the cgroup of `file`'s controller, makes the value writable (v1: inherits the
 * parent's value when empty; v2: enables the controller in every ancestor's
 * cgroup.subtree_control), then writes value into file. */
int cgroup_write(const CgroupFs *fs, const char *parent, const char *id, const char *file,
                 const char *value, Err *e);
/* Moves pid into the cgroup of `file`'s controller (v1: tasks, v2: cgroup.procs). */
int cgroup_attach(const CgroupFs *fs, const char *parent, const char *id, const char *file,
                  pid_t pid, Err *e);
/* Removes <mount>/<parent>/<id> wherever it exists (every v1 mount, or the v2 one), waiting
 * up to CGROUP_RMDIR_WAIT_MS while it is busy. ENOENT is success. */
int cgroup_remove(const CgroupFs *fs, const char *parent, const char *id);

/* One "<file>=<value>" setting, as --cgroup takes it. */
typedef struct CgroupSetting {
        char file[64];
        char value[CGROUP_VALUE_MAX];
} CgroupSetting;

/* Parses "file=value" (one '=', non-empty value, a valid file name). */
int cgroup_setting_parse(const char *arg, CgroupSetting *ret, Err *e);

/* The limits ember puts on a VMM, turned into settings for `version`: v2 cpu.max,
 * memory.max, pids.max; v1 cpu.cfs_period_us + cpu.cfs_quota_us, memory.limit_in_bytes,
 * pids.max. A zero limit is left out. Returns the count written to out. */
typedef struct CgroupLimits {
        unsigned cpu_pct;        /* of one core; 0 = none */
        unsigned long long memory_bytes; /* 0 = none */
        unsigned pids_max;       /* 0 = none */
} CgroupLimits;
size_t cgroup_limits_settings(int version, const CgroupLimits *l, CgroupSetting *out,
                              size_t max);
