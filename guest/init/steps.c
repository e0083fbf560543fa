/* steps.c — the step table, its runner, and the steps that mount the API file systems
 * (/proc, /sys, /dev, /run, /tmp). Every effect goes through ctx->ops; nothing here may
 * call the system directly (the unit tests replay the table against a recorder). */
#include "steps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "modules.h"
#include "shared/log.h"

void init_ctx_init(InitCtx *c, InitMode mode, const SysOps *ops)
{
        *c = (InitCtx){
                .ops = ops,
                .mode = mode,
                .newroot = mode == INIT_VM ? EMBER_VM_NEWROOT : EMBER_PE_NEWROOT,
                .modules_dir = MODULES_DIR,
        };
        cmdline_defaults(&c->cfg);
}

int step_mkdir_p(InitCtx *c, const char *path, Err *e)
{
        char buf[512];
        if (strlen(path) >= sizeof(buf))
                return err_set(e, ENAMETOOLONG, "path too long: %.64s", path);
        strcpy(buf, path);
        for (char *p = buf + 1;; p++) {
                if (*p != '/' && *p != 0)
                        continue;
                char saved = *p;
                *p = 0;
                int r = c->ops->mkdir(buf, 0755);
                if (r < 0)
                        return err_set(e, r, "mkdir %s: %s", buf, strerror(-r));
                if (!(*p = saved))
                        return 0;
        }
}

int step_mount_fs(InitCtx *c, const char *src, const char *target, const char *fstype,
                  unsigned long flags, const char *data, Err *e)
{
        int r = step_mkdir_p(c, target, e);
        if (r < 0)
                return r;
        r = c->ops->mount(src, target, fstype, flags, data);
        if (r < 0)
                return err_set(e, r, "mount %s on %s (%s): %s", src, target,
                               fstype ? fstype : "move", strerror(-r));
        return 0;
}

/* tmpfs options: every tmpfs we mount is bounded by ember.overlay_size */
static int mount_tmpfs(InitCtx *c, const char *target, unsigned mode, unsigned long flags, Err *e)
{
        char data[64];
        snprintf(data, sizeof(data), "mode=%04o,size=%" PRIu64, mode, c->cfg.overlay_size);
        return step_mount_fs(c, "tmpfs", target, "tmpfs", flags, data, e);
}

static int step_make_private(InitCtx *c, Err *e)
{
        /* before anything else: no mount of ours may propagate back to the host */
        int r = c->ops->mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
        return r < 0 ? err_set(e, r, "make / private: %s", strerror(-r)) : 0;
}

static int step_mount_proc(InitCtx *c, Err *e)
{
        return step_mount_fs(c, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, e);
}

static void note_unknown(void *userdata, const char *word)
{
        log_warn("cmdline: unknown key '%.64s' ignored", word);
}

/* The tmpfs size when the command line has none: half of MemTotal, at most OVERLAY_SIZE_MAX
 * (what a 256 MiB guest could afford before: nothing). Unreadable: OVERLAY_SIZE_MAX. */
static void overlay_default(InitCtx *c)
{
        _cleanup_free_ char *text = NULL;
        c->cfg.overlay_size = OVERLAY_SIZE_MAX;
        if (c->ops->read_file("/proc/meminfo", 64 * 1024, &text) < 0)
                return;
        const char *p = strstr(text, "MemTotal:");
        unsigned long long kib = p ? strtoull(p + 9, NULL, 10) : 0;
        if (kib > 0)
                c->cfg.overlay_size = MIN(OVERLAY_SIZE_MAX, (uint64_t)kib * 1024 / 2 & ~((1ull << 20) - 1));
        if (c->cfg.overlay_size == 0)
                c->cfg.overlay_size = 1ull << 20;
}

static int step_cmdline(InitCtx *c, Err *e)
{
        _cleanup_free_ char *buf = NULL;
        const char *line = c->cmdline;
        if (!line) {
                int r = c->ops->read_file("/proc/cmdline", CMDLINE_MAX, &buf);
                if (r < 0)
                        return err_set(e, r, "read /proc/cmdline: %s", strerror(-r));
                line = buf;
        }
        int r = cmdline_parse(line, &c->cfg, note_unknown, NULL, e);
        if (r < 0)
                return r;
        if (!c->cfg.overlay_size_set)
                overlay_default(c);
        if (c->cfg.debug)
                log_set_level(LOG_DEBUG);
        log_info("cmdline: root=%s rootfstype=%s port=%" PRIu32 " overlay_size=%" PRIu64 "%s",
                 c->cfg.root, c->cfg.rootfstype, c->cfg.port, c->cfg.overlay_size,
                 c->cfg.debug ? " debug" : "");
        return 0;
}

static int step_mount_sys(InitCtx *c, Err *e)
{
        /* the process engine shares the host's kernel: its sysfs is read-only */
        unsigned long ro = c->mode == INIT_PROCESS ? MS_RDONLY : 0;
        return step_mount_fs(c, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL, e);
}

static int step_mount_dev(InitCtx *c, Err *e)
{
        return step_mount_fs(c, "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", e);
}

static int step_console(InitCtx *c, Err *e)
{
        int r = c->ops->console();
        if (r < 0) /* not fatal: the guest can serve without a console */
                log_warn("console: open /dev/console: %s", strerror(-r));
        return 0;
}

static const struct {
        const char *name;
        unsigned major, minor;
} dev_nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static int mknod_dev(InitCtx *c, const char *name, mode_t mode, unsigned major, unsigned minor, Err *e)
{
        char path[64];
        snprintf(path, sizeof(path), "/dev/%s", name);
        int r = c->ops->mknod(path, mode, makedev(major, minor));
        return r < 0 ? err_set(e, r, "mknod %s: %s", path, strerror(-r)) : 0;
}

/* The process engine's /dev: a tmpfs with the few nodes a program needs and the drives
 * ember-vmm attached; devtmpfs would show every device of the host. */
static int step_mount_devmin(InitCtx *c, Err *e)
{
        int r = step_mount_fs(c, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                              "mode=0755,size=" DEV_TMPFS_SIZE, e);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(dev_nodes); i++)
                r = mknod_dev(c, dev_nodes[i].name, S_IFCHR | 0666, dev_nodes[i].major, dev_nodes[i].minor, e);
        for (size_t i = 0; r >= 0 && i < c->n_devs; i++)
                r = mknod_dev(c, c->devs[i].name, S_IFBLK | 0600, c->devs[i].major, c->devs[i].minor, e);
        if (r >= 0 && (r = c->ops->symlink("pts/ptmx", "/dev/ptmx")) < 0)
                return err_set(e, r, "symlink /dev/ptmx: %s", strerror(-r));
        return r;
}

static int step_mount_devpts(InitCtx *c, Err *e)
{
        /* newinstance: the process engine must not share the host's ptys */
        const char *data = c->mode == INIT_PROCESS ? "newinstance,ptmxmode=0666,mode=0620"
                                                    : "ptmxmode=0666,mode=0620";
        return step_mount_fs(c, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, data, e);
}

static const struct {
        const char *target, *path;
} dev_links[] = {
        {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
};

static int step_dev_links(InitCtx *c, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++) {
                int r = c->ops->symlink(dev_links[i].target, dev_links[i].path);
                if (r < 0)
                        return err_set(e, r, "symlink %s: %s", dev_links[i].path, strerror(-r));
        }
        return 0;
}

static int step_mount_shm(InitCtx *c, Err *e) { return mount_tmpfs(c, "/dev/shm", 01777, MS_NOSUID | MS_NODEV, e); }
static int step_mount_run(InitCtx *c, Err *e) { return mount_tmpfs(c, "/run", 0755, MS_NOSUID | MS_NODEV, e); }
static int step_mount_tmp(InitCtx *c, Err *e) { return mount_tmpfs(c, "/tmp", 01777, MS_NOSUID | MS_NODEV, e); }

/* Row order is boot order. Before "cmdline" a row must have the same bits in both columns
 * of its mode: the column is only known once ember.root has been read. */
static const Step steps[] = {
        {"make_private", step_make_private, ON_PE | ON_PE_NONE},
        {"mount_proc", step_mount_proc, ON_VM | ON_VM_NONE},
        {"cmdline", step_cmdline, ON_ALL},
        {"mount_proc", step_mount_proc, ON_PE_NONE},
        {"mount_sys", step_mount_sys, ON_VM | ON_VM_NONE},
        {"mount_dev", step_mount_dev, ON_VM | ON_VM_NONE},
        {"console", step_console, ON_VM | ON_VM_NONE},
        {"mount_devmin", step_mount_devmin, ON_PE | ON_PE_NONE},
        {"mount_devpts", step_mount_devpts, ON_ALL},
        {"dev_links", step_dev_links, ON_ALL},
        {"mount_shm", step_mount_shm, ON_ALL},
        {"mount_run", step_mount_run, ON_ALL},
        {"load_modules", step_load_modules, ON_VM | ON_VM_NONE},
        {"wait_root", step_wait_root, ON_VM | ON_PE},
        {"mount_lower", step_mount_lower, ON_VM | ON_PE},
        {"mount_upper", step_mount_upper, ON_VM | ON_PE},
        {"mount_overlay", step_mount_overlay, ON_VM | ON_PE},
        {"move_mounts", step_move_mounts, ON_VM | ON_PE},
        {"switch_root", step_switch_root, ON_VM},
        {"pivot_root", step_pivot_root, ON_PE},
        {"mount_proc", step_mount_proc, ON_PE},
        {"mount_sys", step_mount_sys, ON_PE},
        {"mount_run", step_mount_run, ON_PE},
        {"mount_tmp", step_mount_tmp, ON_ALL},
};

const Step *steps_table(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(steps);
        return steps;
}

unsigned steps_column(const InitCtx *c)
{
        bool none = cmdline_root_none(&c->cfg);
        if (c->mode == INIT_VM)
                return none ? ON_VM_NONE : ON_VM;
        return none ? ON_PE_NONE : ON_PE;
}

int steps_run(InitCtx *c, const char **ret_step, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                if (!(steps[i].on & steps_column(c)))
                        continue;
                log_info("step %s", steps[i].name);
                if (c->on_step)
                        c->on_step(c->userdata, steps[i].name);
                int r = steps[i].fn(c, e);
                if (r < 0) {
                        *ret_step = steps[i].name;
                        return r;
                }
        }
        return 0;
}
