/* test-steps.c — the boot step table, replayed against a recording SysOps: each mode runs
 * the right steps in the right order with the right effects, failures name their step,
 * the root device wait and module loading behave. Nothing is mounted. */
#include <errno.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../test.h"
#include "shared/log.h"
#include "steps.h"

#define LOG_MAX 256

static struct {
        char *lines[LOG_MAX];
        size_t n;
        char steps[1024];
        const char *cmdline_file, *order_file, *meminfo_file;
        const char *fail_target; /* mount on this target fails with EINVAL */
        int dev_after;           /* is_blockdev says yes after this many polls; -1 never */
        int polls, sleeps;
} rec;

static void record(const char *fmt, ...) _printf_(1, 2);
static void record(const char *fmt, ...)
{
        va_list ap;
        char buf[512];
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (rec.n < LOG_MAX)
                rec.lines[rec.n++] = strdup(buf);
}

static void rec_reset(void)
{
        for (size_t i = 0; i < rec.n; i++)
                free(rec.lines[i]);
        memset(&rec, 0, sizeof(rec));
        rec.dev_after = 0;
}

static int f_mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)
{
        if (flags & MS_MOVE)
                record("move %s %s", src, target);
        else if (flags & MS_PRIVATE)
                record("private %s%s", target, flags & MS_REC ? " rec" : "");
        else
                record("mount %s %s %s%s %s", src, target, fstype, flags & MS_RDONLY ? " ro" : "", data ? data : "-");
        return rec.fail_target && !strcmp(target, rec.fail_target) ? -EINVAL : 0;
}
static int f_umount(const char *t, int flags)
{
        record("umount %s%s", t, flags & MNT_DETACH ? " detach" : "");
        return 0;
}
static int f_mkdir(const char *p, mode_t m) { record("mkdir %s", p); return 0; }
static int f_mknod(const char *p, mode_t m, dev_t d)
{
        record("mknod %s %c %o %u:%u", p, S_ISBLK(m) ? 'b' : 'c', m & 07777, major(d), minor(d));
        return 0;
}
static int f_symlink(const char *t, const char *p) { record("symlink %s -> %s", p, t); return 0; }
static int f_chdir(const char *p) { record("chdir %s", p); return 0; }
static int f_chroot(const char *p) { record("chroot %s", p); return 0; }
static int f_pivot(const char *n, const char *o) { record("pivot_root %s %s", n, o); return 0; }
static int f_load(const char *p) { record("load %s", p); return 0; }
static int f_blk(const char *p)
{
        if (rec.polls++ == 0)
                record("wait %s", p);
        if (rec.dev_after < 0)
                return 0;
        return rec.polls > rec.dev_after ? 1 : 0;
}
static void f_sleep(unsigned ms) { rec.sleeps++; }
static int f_read(const char *p, size_t max, char **ret)
{
        const char *text = !strcmp(p, "/proc/cmdline") ? rec.cmdline_file
                         : strstr(p, "modules.order") ? rec.order_file
                         : !strcmp(p, "/proc/meminfo") ? rec.meminfo_file : NULL;
        record("read %s", p);
        if (!text)
                return -ENOENT;
        *ret = strdup(text);
        return 0;
}
static int f_clear(const char *keep) { record("clear_rootfs keep %s", keep); return 0; }
static int f_console(void) { record("console"); return 0; }

static const SysOps fake = {
        .mount = f_mount, .umount = f_umount, .mkdir = f_mkdir, .mknod = f_mknod, .symlink = f_symlink,
        .chdir = f_chdir, .chroot = f_chroot, .pivot_root = f_pivot, .load_module = f_load,
        .is_blockdev = f_blk, .sleep_ms = f_sleep, .read_file = f_read, .clear_rootfs = f_clear,
        .console = f_console,
};

static void on_step(void *ud, const char *name)
{
        strcat(rec.steps, name);
        strcat(rec.steps, " ");
}

/* Index of the first recorded line from `from` on starting with prefix, -1 when none. */
static int find_from(size_t from, const char *prefix)
{
        for (size_t i = from; i < rec.n; i++)
                if (!strncmp(rec.lines[i], prefix, strlen(prefix)))
                        return (int)i;
        return -1;
}

static int find(const char *prefix) { return find_from(0, prefix); }

static void dump(void)
{
        for (size_t i = 0; i < rec.n; i++)
                fprintf(stderr, "  %zu: %s\n", i, rec.lines[i]);
}

/* Checks that the prefixes appear in this order (each after the previous one). */
static void check_order(const char *const *prefixes, size_t n)
{
        int last = -1;
        for (size_t i = 0; i < n; i++) {
                int at = find_from((size_t)(last + 1), prefixes[i]);
                if (at < 0 || at <= last) {
                        fprintf(stderr, "order: '%s' at %d, after %d\n", prefixes[i], at, last);
                        dump();
                }
                CHECK(at > last);
                last = at;
        }
}

static int run(InitMode mode, const char *cmdline, const InitDev *devs, size_t n_devs, const char **failed, Err *e)
{
        InitCtx c;
        init_ctx_init(&c, mode, &fake);
        if (mode == INIT_PROCESS)
                c.cmdline = cmdline;
        else
                rec.cmdline_file = cmdline;
        c.devs = devs;
        c.n_devs = n_devs;
        c.on_step = on_step;
        *failed = NULL;
        return steps_run(&c, failed, e);
}

static void test_vm(void)
{
        const char *failed;
        Err e = {0};
        rec_reset();
        rec.order_file = "virtio_ring.ko\nvirtio_blk.ko\nsquashfs.ko\n";
        rec.dev_after = 3;
        CHECK_EQ_INT(run(INIT_VM, "console=ttyS0 ember.root=/dev/vda ember.overlay_size=64m\n", NULL, 0, &failed, &e), 0);
        CHECK_STR(rec.steps, "mount_proc cmdline mount_sys mount_dev console mount_devpts dev_links mount_shm "
                             "mount_run load_modules wait_root mount_lower mount_upper mount_overlay "
                             "move_mounts switch_root mount_tmp ");
        static const char *const order[] = {
                "mount proc /proc proc", "read /proc/cmdline", "mount sysfs /sys sysfs",
                "mount devtmpfs /dev devtmpfs", "console", "mount devpts /dev/pts devpts ptmxmode=0666,mode=0620",
                "symlink /dev/fd -> /proc/self/fd", "mount tmpfs /dev/shm tmpfs mode=1777,size=67108864",
                "mount tmpfs /run tmpfs mode=0755,size=67108864", "read /lib/modules/ember/modules.order",
                "load /lib/modules/ember/virtio_ring.ko", "load /lib/modules/ember/virtio_blk.ko",
                "load /lib/modules/ember/squashfs.ko", "wait /dev/vda",
                "mount /dev/vda /run/ember/lower squashfs ro -",
                "mount tmpfs /run/ember/rw tmpfs mode=0755,size=67108864", "mkdir /run/ember/rw/upper",
                "mkdir /run/ember/rw/work",
                "mount overlay /sysroot overlay lowerdir=/run/ember/lower,upperdir=/run/ember/rw/upper,"
                "workdir=/run/ember/rw/work",
                "move /proc /sysroot/proc", "move /sys /sysroot/sys", "move /dev /sysroot/dev",
                "move /run /sysroot/run", "clear_rootfs keep /sysroot", "chdir /sysroot", "move . /",
                "chroot .", "chdir /", "mount tmpfs /tmp tmpfs mode=1777,size=67108864",
        };
        check_order(order, ELEMENTSOF(order));
        CHECK_EQ_INT(rec.sleeps, 3); /* polled until the device showed up */
        CHECK_EQ_INT(find("private"), -1);
        CHECK_EQ_INT(find("mknod"), -1); /* devtmpfs has the nodes */
        CHECK_EQ_INT(find("pivot_root"), -1);
}

static void test_vm_none(void)
{
        const char *failed;
        Err e = {0};
        rec_reset();
        CHECK_EQ_INT(run(INIT_VM, "ember.root=none", NULL, 0, &failed, &e), 0);
        CHECK_STR(rec.steps, "mount_proc cmdline mount_sys mount_dev console mount_devpts dev_links mount_shm "
                             "mount_run load_modules mount_tmp ");
        CHECK(find("read /lib/modules/ember/modules.order") >= 0); /* missing: nothing loaded */
        CHECK_EQ_INT(find("load "), -1);
        CHECK_EQ_INT(find("wait"), -1);
        CHECK_EQ_INT(find("chroot"), -1);
}

/* Without ember.overlay_size: half the memory, whole MiB, at most 256 MiB. */
static void test_overlay_default(void)
{
        static const struct {
                const char *meminfo, *want;
        } cases[] = {
                {"MemTotal:         223456 kB\nMemFree: 1 kB\n", "mount tmpfs /dev/shm tmpfs mode=1777,size=114294784"},
                {"MemTotal:       24683520 kB\n", "mount tmpfs /dev/shm tmpfs mode=1777,size=268435456"},
                {NULL, "mount tmpfs /dev/shm tmpfs mode=1777,size=268435456"}, /* unreadable */
                {"garbage\n", "mount tmpfs /dev/shm tmpfs mode=1777,size=268435456"},
                {"MemTotal: 1000 kB\n", "mount tmpfs /dev/shm tmpfs mode=1777,size=1048576"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *failed;
                Err e = {0};
                rec_reset();
                rec.meminfo_file = cases[i].meminfo;
                CHECK_EQ_INT(run(INIT_VM, "ember.root=none", NULL, 0, &failed, &e), 0);
                CHECK(find(cases[i].want) >= 0);
                if (find(cases[i].want) < 0)
                        fprintf(stderr, "  case %zu: no \"%s\"\n", i, cases[i].want);
        }
        const char *failed;
        Err e = {0};
        rec_reset();
        rec.meminfo_file = "MemTotal: 1000 kB\n"; /* given: the command line wins, no read */
        CHECK_EQ_INT(run(INIT_VM, "ember.root=none ember.overlay_size=64m", NULL, 0, &failed, &e), 0);
        CHECK(find("mount tmpfs /dev/shm tmpfs mode=1777,size=67108864") >= 0);
        CHECK_EQ_INT(find("read /proc/meminfo"), -1);
}

static const InitDev devs[] = {{"vda", 7, 3}, {"vdb", 259, 1}};

static void test_process_engine(void)
{
        const char *failed;
        Err e = {0};
        rec_reset();
        CHECK_EQ_INT(run(INIT_PROCESS, "console=ttyS0 reboot=k ember.root=/dev/vda ember.port=52 ember.overlay_size=1g",
                         devs, 2, &failed, &e), 0);
        CHECK_STR(rec.steps, "make_private cmdline mount_devmin mount_devpts dev_links mount_shm mount_run "
                             "wait_root mount_lower mount_upper mount_overlay move_mounts pivot_root mount_proc "
                             "mount_sys mount_run mount_tmp ");
        CHECK_EQ_INT(find("private / rec"), 0); /* the very first effect */
        static const char *const order[] = {
                "private / rec", "mount tmpfs /dev tmpfs mode=0755,size=1m", "mknod /dev/null c 666 1:3",
                "mknod /dev/zero c 666 1:5", "mknod /dev/full c 666 1:7", "mknod /dev/random c 666 1:8",
                "mknod /dev/urandom c 666 1:9", "mknod /dev/tty c 666 5:0", "mknod /dev/vda b 600 7:3",
                "mknod /dev/vdb b 600 259:1", "symlink /dev/ptmx -> pts/ptmx",
                "mount devpts /dev/pts devpts newinstance,ptmxmode=0666,mode=0620",
                "mount tmpfs /run tmpfs mode=0755,size=1073741824", "wait /dev/vda",
                "mount /dev/vda /run/ember/lower squashfs ro", "mount tmpfs /run/ember/rw tmpfs",
                "mount overlay /run/ember/root overlay", "move /dev /run/ember/root/dev",
                "chdir /run/ember/root", "pivot_root . .", "umount . detach", "chdir /",
                "mount proc /proc proc", "mount sysfs /sys sysfs ro", "mount tmpfs /run tmpfs",
                "mount tmpfs /tmp tmpfs mode=1777",
        };
        check_order(order, ELEMENTSOF(order));
        CHECK_EQ_INT(find("mount devtmpfs"), -1); /* never the host's devices */
        CHECK_EQ_INT(find("read "), -1);          /* cmdline from the argument, no modules */
        CHECK_EQ_INT(find("clear_rootfs"), -1);
        CHECK_EQ_INT(find("move /proc"), -1);
        CHECK_EQ_INT(find("console"), -1);
        CHECK_EQ_INT(rec.sleeps, 0);
}

static void test_process_engine_none(void)
{
        const char *failed;
        Err e = {0};
        rec_reset();
        CHECK_EQ_INT(run(INIT_PROCESS, "ember.root=none", NULL, 0, &failed, &e), 0);
        CHECK_STR(rec.steps, "make_private cmdline mount_proc mount_devmin mount_devpts dev_links mount_shm "
                             "mount_run mount_tmp ");
        static const char *const order[] = {
                "private / rec", "mount proc /proc proc", "mount tmpfs /dev tmpfs",
                "mount devpts /dev/pts devpts newinstance", "mount tmpfs /run tmpfs", "mount tmpfs /tmp tmpfs",
        };
        check_order(order, ELEMENTSOF(order));
        CHECK_EQ_INT(find("pivot_root"), -1);
        CHECK_EQ_INT(find("chdir"), -1);
        CHECK_EQ_INT(find("mknod /dev/vda"), -1);
}

static void test_table_columns(void)
{
        /* rows before "cmdline" must not depend on ember.root: the column is not known yet */
        size_t n;
        const Step *t = steps_table(&n);
        for (size_t i = 0; i < n && strcmp(t[i].name, "cmdline") != 0; i++) {
                CHECK_EQ_INT(!!(t[i].on & ON_VM), !!(t[i].on & ON_VM_NONE));
                CHECK_EQ_INT(!!(t[i].on & ON_PE), !!(t[i].on & ON_PE_NONE));
        }
}

static void test_failures(void)
{
        const char *failed;
        Err e = {0};
        rec_reset();
        rec.fail_target = "/run/ember/lower";
        CHECK_EQ_INT(run(INIT_PROCESS, "ember.root=/dev/vda", devs, 1, &failed, &e), -EINVAL);
        CHECK_STR(failed, "mount_lower");
        CHECK(strstr(e.msg, "/dev/vda") && strstr(e.msg, "/run/ember/lower") && strstr(e.msg, "squashfs"));
        CHECK_EQ_INT(find("mount overlay"), -1); /* nothing after the failure */

        rec_reset();
        rec.dev_after = -1; /* the device never shows up */
        CHECK_EQ_INT(run(INIT_VM, "ember.root=/dev/vdz", NULL, 0, &failed, &e), -ENODEV);
        CHECK_STR(failed, "wait_root");
        CHECK(strstr(e.msg, "/dev/vdz") != NULL);
        CHECK_EQ_INT(rec.sleeps, ROOT_WAIT_MS / ROOT_POLL_MS); /* bounded, ~5 s */

        rec_reset();
        CHECK_EQ_INT(run(INIT_VM, "ember.port=banana", NULL, 0, &failed, &e), -EINVAL);
        CHECK_STR(failed, "cmdline");
        CHECK(strstr(e.msg, "ember.port") != NULL);

        rec_reset();
        rec.order_file = "ok.ko\n../../etc/passwd\n";
        CHECK_EQ_INT(run(INIT_VM, "", NULL, 0, &failed, &e), -EINVAL);
        CHECK_STR(failed, "load_modules");
        CHECK_EQ_INT(find("load "), -1); /* the whole list is checked before loading */
}

TEST_MAIN({
        log_set_level(LOG_ERR);
        test_vm();
        test_vm_none();
        test_overlay_default();
        test_process_engine();
        test_process_engine_none();
        test_table_columns();
        test_failures();
        rec_reset();
})
