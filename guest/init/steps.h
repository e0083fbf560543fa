/* steps.h — the boot of emberd-init as one table of steps with a column per mode: VM (PID 1
 * of a guest kernel, switch_root) and process engine (PID 1 of fresh namespaces, pivot_root),
 * each with a root device or with ember.root=none. Steps act only through ctx->ops, so the
 * order and effects can be checked in unit tests. A step that fails is fatal to the boot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "cmdline.h"
#include "shared/err.h"
#include "sysops.h"

#define EMBER_RUN_DIR "/run/ember"
#define EMBER_LOWER_DIR "/run/ember/lower"   /* the pack's squashfs, read-only */
#define EMBER_RW_DIR "/run/ember/rw"         /* size-limited tmpfs holding upper/ and work/ */
/* The overlay must not sit under /run in VM mode: /run is moved into it. */
#define EMBER_VM_NEWROOT "/sysroot"
#define EMBER_PE_NEWROOT "/run/ember/root"
#define ROOT_WAIT_MS 5000u
#define ROOT_POLL_MS 10u
#define DEV_TMPFS_SIZE "1m"
/* Without ember.overlay_size every tmpfs gets half the memory, at most this: tmpfs pages
 * cannot be swapped here, and a disk fill must meet ENOSPC before the OOM killer. */
#define OVERLAY_SIZE_MAX (256ull << 20)

typedef enum InitMode { INIT_VM, INIT_PROCESS } InitMode;

enum { /* the columns of the step table */
        ON_VM = 1u << 0,      /* VM, root device */
        ON_VM_NONE = 1u << 1, /* VM, ember.root=none: stay in the initramfs */
        ON_PE = 1u << 2,      /* process engine, root device */
        ON_PE_NONE = 1u << 3, /* process engine, ember.root=none: stay on the host's root */
        ON_ALL = 0xf,
};

typedef struct InitCtx {
        const SysOps *ops;
        InitMode mode;
        InitConfig cfg;
        const char *cmdline; /* process engine: --cmdline; VM: NULL = read /proc/cmdline */
        const InitDev *devs; /* process engine: --dev nodes to create */
        size_t n_devs;
        const char *newroot;
        const char *modules_dir;
        /* optional: told each step's name before it runs (tests) */
        void (*on_step)(void *userdata, const char *name);
        void *userdata;
} InitCtx;

typedef int (*StepFn)(InitCtx *c, Err *e);
typedef struct Step {
        const char *name;
        StepFn fn;
        unsigned on; /* ON_* bits */
} Step;

void init_ctx_init(InitCtx *c, InitMode mode, const SysOps *ops);
/* The column that applies now (it depends on ember.root, known after the cmdline step). */
unsigned steps_column(const InitCtx *c);
const Step *steps_table(size_t *ret_n);
/* Runs the steps of the current column in table order. On failure returns -errno, sets
 * *ret_step to the failing step's name and e to the reason. */
int steps_run(InitCtx *c, const char **ret_step, Err *e);

/* step functions (steps.c: API file systems; rootfs.c: the root and its switch) */
int step_mount_fs(InitCtx *c, const char *src, const char *target, const char *fstype,
                  unsigned long flags, const char *data, Err *e);
int step_mkdir_p(InitCtx *c, const char *path, Err *e);
int step_wait_root(InitCtx *c, Err *e);
int step_mount_lower(InitCtx *c, Err *e);
int step_mount_upper(InitCtx *c, Err *e);
int step_mount_overlay(InitCtx *c, Err *e);
int step_move_mounts(InitCtx *c, Err *e);
int step_switch_root(InitCtx *c, Err *e);
int step_pivot_root(InitCtx *c, Err *e);
int step_load_modules(InitCtx *c, Err *e);
