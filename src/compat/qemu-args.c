/* qemu-args.c — see qemu-args.h. Each part of the machine is one function in parts[];
 * ids and numbers are the only things formatted into option strings (no client path ever
 * is), so no option can be smuggled in by a comma. */
#include "qemu-args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/cleanup.h"

#define QEMU_ARGS_MAX 160 /* 16 drives take 4 each; the rest is well under 64 */

typedef struct Argv {
        char *v[QEMU_ARGS_MAX + 1];
        size_t n;
        bool oom;
} Argv;

static void push(Argv *a, const char *fmt, ...) _printf_(2, 3);
static void push(Argv *a, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        if (a->oom || a->n >= QEMU_ARGS_MAX) {
                a->oom = true;
                return;
        }
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                a->oom = true;
                return;
        }
        a->v[a->n++] = s;
}

static void push2(Argv *a, const char *opt, const char *val)
{
        push(a, "%s", opt);
        push(a, "%s", val);
}

/* Guest RAM is a shared memfd: vhost-user maps it into the backend (QEMU refuses a
 * vhost-user device on private RAM). dump=off keeps guest memory out of core files. */
static void part_machine(const QemuSpec *s, Argv *a)
{
        push(a, "%s", s->qemu_bin);
        push2(a, "-name", s->name);
        push(a, "-nodefaults");
        push(a, "-no-user-config");
        push2(a, "-display", "none");
        /* a guest reboot (reboot=k, panic=1) ends QEMU, as it ends Firecracker */
        push(a, "-no-reboot");
        /* TCG's translation cache grows with the code a guest runs (QEMU's default cap is
         * 1 GiB): a fixed cap bounds QEMU's memory; a full cache is flushed, not grown */
        push2(a, "-accel", s->kvm ? "kvm" : "tcg,tb-size=" QEMU_TCG_TB_MIB);
        if (s->kvm)
                push2(a, "-cpu", "host");
        push(a, "-object");
        push(a, "memory-backend-memfd,id=mem0,size=%uM,share=on,dump=off%s", s->mem_mib,
             s->huge_pages ? ",hugetlb=on,hugetlbsize=2M" : "");
        push2(a, "-machine", QEMU_MACHINE ",memory-backend=mem0");
        push(a, "-m");
        push(a, "%uM", s->mem_mib);
        push(a, "-smp");
        if (s->smt)
                push(a, "%u,cores=%u,threads=2", s->vcpus, s->vcpus / 2);
        else
                push(a, "%u", s->vcpus);
        if (s->paused)
                push(a, "-S");
}

static void part_boot(const QemuSpec *s, Argv *a)
{
        /* an ELF vmlinux with the PVH note boots directly (FACTS §3) */
        push2(a, "-kernel", s->kernel);
        if (s->initrd)
                push2(a, "-initrd", s->initrd);
        push2(a, "-append", s->cmdline);
}

/* Each drive's fd goes in its own fd set: QEMU then only ever uses that fd, with its
 * access mode, so a read-only drive cannot be reopened for writing. */
static void part_drives(const QemuSpec *s, Argv *a)
{
        for (unsigned i = 0; i < s->n_drives; i++) {
                const QemuDrive *d = &s->drives[i];
                push(a, "-add-fd");
                push(a, "fd=%d,set=%u", d->fd, i + 1);
                push(a, "-drive");
                push(a, "if=none,id=drive_%s,file=/dev/fdset/%u,format=raw,readonly=%s,cache=%s",
                     d->id, i + 1, d->read_only ? "on" : "off",
                     d->writeback ? "writeback" : "unsafe");
                push(a, "-device");
                push(a, "virtio-blk-pci,drive=drive_%s,id=blk_%s", d->id, d->id);
        }
}

/* PUT /entropy: virtio-rng fed by QEMU's getrandom(); a bandwidth rate limiter becomes
 * virtio-rng's max-bytes per period. */
static void part_rng(const QemuSpec *s, Argv *a)
{
        if (!s->rng)
                return;
        push2(a, "-object", "rng-builtin,id=rng0");
        push(a, "-device");
        if (s->rng_bytes && s->rng_period_ms)
                push(a, "virtio-rng-pci,rng=rng0,max-bytes=%llu,period=%llu",
                     (unsigned long long)s->rng_bytes, (unsigned long long)s->rng_period_ms);
        else
                push(a, "virtio-rng-pci,rng=rng0");
}

/* vhost-user-vsock behind its own PCIe root port, so it can be unplugged and plugged
 * back (the snapshot path, QEMU_SNAPSHOT_FACTS); on pcie.0 it could not. */
static void part_vsock(const QemuSpec *s, Argv *a)
{
        if (s->vsock_fd < 0)
                return;
        push(a, "-chardev");
        push(a, "socket,id=vu0,fd=%d", s->vsock_fd);
        push2(a, "-device", "pcie-root-port,id=rp1,chassis=1,slot=1");
        push2(a, "-device", "vhost-user-vsock-pci,chardev=vu0,id=vsock0,bus=rp1");
}

static void part_plumbing(const QemuSpec *s, Argv *a)
{
        push(a, "-chardev");
        push(a, "socket,id=ser0,fd=%d", s->serial_fd);
        push2(a, "-serial", "chardev:ser0");
        if (s->qmp_fd >= 0) {
                push(a, "-chardev");
                push(a, "socket,id=qmp0,fd=%d", s->qmp_fd);
                push2(a, "-mon", "chardev=qmp0,mode=control");
        }
}

static void (*const parts[])(const QemuSpec *s, Argv *a) = {
        part_machine, part_boot, part_drives, part_rng, part_vsock, part_plumbing,
};

static int check(const QemuSpec *s, Err *e)
{
        if (!s->qemu_bin || !s->name || !s->cmdline || !s->kernel || s->serial_fd < 0)
                return err_set(e, EINVAL, "qemu: incomplete machine description");
        if (s->vcpus == 0 || s->mem_mib == 0)
                return err_set(e, EINVAL, "qemu: vcpu_count and mem_size_mib must be positive");
        if (s->smt && s->vcpus % 2)
                return err_set(e, EINVAL, "qemu: with smt the vcpu_count must be even");
        if (strlen(s->cmdline) >= QEMU_CMDLINE_MAX)
                return err_set(e, EINVAL, "the kernel command line is %zu bytes, over the %u the "
                               "guest keeps", strlen(s->cmdline), QEMU_CMDLINE_MAX - 1);
        return 0;
}

int qemu_args_build(const QemuSpec *s, char ***ret_argv, Err *e)
{
        int r = check(s, e);
        if (r < 0)
                return r;
        Argv a = {.n = 0};
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                parts[i](s, &a);
        char **v = a.oom ? NULL : calloc(a.n + 1, sizeof(char *));
        if (!v) {
                for (size_t i = 0; i < a.n; i++)
                        free(a.v[i]);
                return err_set(e, ENOMEM, "qemu: out of memory for the command line");
        }
        memcpy(v, a.v, a.n * sizeof(char *));
        *ret_argv = v;
        return 0;
}

void qemu_args_free(char **argv)
{
        for (size_t i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
}
