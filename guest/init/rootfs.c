/* rootfs.c — the steps that build the sandbox's root: modules, the root device, the
 * squashfs lower layer, the tmpfs upper layer, the overlay, and the switch into it
 * (switch_root from the initramfs in a VM, pivot_root in the process engine). Effects go
 * through ctx->ops only. */
#include "steps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "modules.h"
#include "shared/log.h"

int step_load_modules(InitCtx *c, Err *e)
{
        char path[512];
        _cleanup_free_ char *text = NULL;
        snprintf(path, sizeof(path), "%s/modules.order", c->modules_dir);
        int r = c->ops->read_file(path, MODULES_ORDER_MAX, &text);
        if (r == -ENOENT) {
                log_info("load_modules: no %s, nothing to load", path);
                return 0;
        }
        if (r < 0)
                return err_set(e, r, "read %s: %s", path, strerror(-r));
        const char *names[MODULES_MAX];
        size_t n;
        r = modules_order_parse(text, names, MODULES_MAX, &n, e);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                snprintf(path, sizeof(path), "%s/%s", c->modules_dir, names[i]);
                log_debug("load_modules: %s", names[i]);
                r = c->ops->load_module(path);
                if (r < 0)
                        return err_set(e, r, "%s: %s", names[i], strerror(-r));
        }
        return r;
}

int step_wait_root(InitCtx *c, Err *e)
{
        /* the node appears once virtio_blk has bound the device */
        for (unsigned waited = 0;; waited += ROOT_POLL_MS) {
                int r = c->ops->is_blockdev(c->cfg.root);
                if (r > 0)
                        return 0;
                if (r < 0)
                        return err_set(e, r, "%s: %s", c->cfg.root, strerror(-r));
                if (waited >= ROOT_WAIT_MS)
                        return err_set(e, ENODEV, "%s did not appear within %u ms", c->cfg.root, ROOT_WAIT_MS);
                c->ops->sleep_ms(ROOT_POLL_MS);
        }
}

int step_mount_lower(InitCtx *c, Err *e)
{
        return step_mount_fs(c, c->cfg.root, EMBER_LOWER_DIR, c->cfg.rootfstype, MS_RDONLY, NULL, e);
}

int step_mount_upper(InitCtx *c, Err *e)
{
        char data[64];
        snprintf(data, sizeof(data), "mode=0755,size=%" PRIu64, c->cfg.overlay_size);
        int r = step_mount_fs(c, "tmpfs", EMBER_RW_DIR, "tmpfs", MS_NOSUID | MS_NODEV, data, e);
        if (r >= 0)
                r = step_mkdir_p(c, EMBER_RW_DIR "/upper", e);
        if (r >= 0)
                r = step_mkdir_p(c, EMBER_RW_DIR "/work", e);
        return r;
}

int step_mount_overlay(InitCtx *c, Err *e)
{
        return step_mount_fs(c, "overlay", c->newroot, "overlay", 0,
                             "lowerdir=" EMBER_LOWER_DIR ",upperdir=" EMBER_RW_DIR
                             "/upper,workdir=" EMBER_RW_DIR "/work",
                             e);
}

/* What goes with us into the new root. The process engine takes only its private /dev:
 * its /proc and /sys belong to the host's namespaces and are mounted afresh after pivot. */
static const char *const vm_moves[] = {"/proc", "/sys", "/dev", "/run"};
static const char *const pe_moves[] = {"/dev"};

int step_move_mounts(InitCtx *c, Err *e)
{
        const char *const *moves = c->mode == INIT_VM ? vm_moves : pe_moves;
        size_t n = c->mode == INIT_VM ? ELEMENTSOF(vm_moves) : ELEMENTSOF(pe_moves);
        for (size_t i = 0; i < n; i++) {
                char target[512];
                snprintf(target, sizeof(target), "%s%s", c->newroot, moves[i]);
                int r = step_mount_fs(c, moves[i], target, NULL, MS_MOVE, NULL, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int op_fail(Err *e, int r, const char *what)
{
        return err_set(e, r, "%s: %s", what, strerror(-r));
}

/* Like switch_root(8): free the initramfs' memory (its files, never across a mount), then
 * put the new root on top of / and enter it. pivot_root is impossible from the rootfs. */
int step_switch_root(InitCtx *c, Err *e)
{
        int r = c->ops->clear_rootfs(c->newroot);
        if (r < 0) /* only memory is lost */
                log_warn("switch_root: deleting the initramfs: %s", strerror(-r));
        if ((r = c->ops->chdir(c->newroot)) < 0)
                return op_fail(e, r, "chdir to the new root");
        if ((r = c->ops->mount(".", "/", NULL, MS_MOVE, NULL)) < 0)
                return op_fail(e, r, "move the new root onto /");
        if ((r = c->ops->chroot(".")) < 0)
                return op_fail(e, r, "chroot");
        if ((r = c->ops->chdir("/")) < 0)
                return op_fail(e, r, "chdir /");
        return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the new
 * root alone (pivot_root(2), NOTES). The overlay keeps its layers alive by itself. */
int step_pivot_root(InitCtx *c, Err *e)
{
        int r;
        if ((r = c->ops->chdir(c->newroot)) < 0)
                return op_fail(e, r, "chdir to the new root");
        if ((r = c->ops->pivot_root(".", ".")) < 0)
                return op_fail(e, r, "pivot_root");
        if ((r = c->ops->umount(".", MNT_DETACH)) < 0)
                return op_fail(e, r, "detach the old root");
        if ((r = c->ops->chdir("/")) < 0)
                return op_fail(e, r, "chdir /");
        return 0;
}
