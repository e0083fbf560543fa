/* qemu-args.h — the QEMU 7.2 command line of one microVM, from a plain description
 * (QemuSpec) that the qemu engine fills from the Firecracker model and the KVM probe fills
 * for its test boot. One builder per part (machine, boot, drives, rng, vsock, plumbing), in a
 * table. Pure: no files are opened and nothing is spawned here. Drives are inherited fds in
 * fd sets and the kernel and initrd are plain file arguments, so a path from a client never
 * reaches QEMU's option parser (where a comma would start a new option). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../shared/err.h"

/* The machine type: q35 (ACPI hot-plug for the snapshot path: vsock behind a root port). */
#define QEMU_MACHINE "q35"
/* x86_64 COMMAND_LINE_SIZE, what the guest kernel keeps (Firecracker's CMDLINE_MAX_SIZE). */
#define QEMU_CMDLINE_MAX 2048u
/* ours: the TCG translation cache, in MiB (emberd's host cgroup leaves room for it) */
#define QEMU_TCG_TB_MIB "128"

typedef struct QemuDrive {
        const char *id;  /* [A-Za-z0-9_]+, checked by the model */
        int fd;          /* opened O_RDONLY or O_RDWR at PUT /drives; passed in an fd set */
        bool read_only;
        bool writeback;  /* cache_type Writeback (flush honoured) vs Unsafe */
} QemuDrive;

typedef struct QemuSpec {
        const char *qemu_bin;
        const char *name;    /* instance id, for ps and QEMU's messages */
        bool kvm;            /* else TCG */
        unsigned vcpus, mem_mib;
        bool smt;            /* two threads per core */
        bool huge_pages;     /* 2 MiB hugetlb memfd */
        const char *kernel, *initrd; /* paths (initrd NULL = none); not fds: a jail has no /proc */
        const char *cmdline; /* the complete kernel command line */
        const QemuDrive *drives;
        unsigned n_drives;
        bool rng;            /* virtio-rng (PUT /entropy) */
        uint64_t rng_bytes, rng_period_ms; /* 0 = unlimited; else bytes per period */
        int vsock_fd;        /* connected vhost-user socket, -1 = no vsock device */
        int serial_fd;       /* socket QEMU writes the guest's ttyS0 to */
        int qmp_fd;          /* socket QMP is served on, -1 = none */
        bool paused;         /* -S: vCPUs wait for QMP "cont" */
} QemuSpec;

/* A NULL-terminated, malloc'd argv (free with qemu_args_free). -EINVAL with a message for a
 * spec QEMU cannot run (a command line over QEMU_CMDLINE_MAX, 0 vCPUs, odd vCPUs with smt). */
int qemu_args_build(const QemuSpec *s, char ***ret_argv, Err *e);
void qemu_args_free(char **argv);
