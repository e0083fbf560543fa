/* kvm-probe.h — is KVM usable for a normal guest on this host? /dev/kvm existing proves
 * nothing (a paravirtual nested KVM may create VMs and still crawl through instruction
 * emulation), so the verdict comes from booting the real kernel + initramfs under QEMU with
 * -accel kvm until emberd-init (user space: its first line, or any) prints on the console,
 * within a deadline. The verdict is
 * cached in a file keyed by the host kernel release, the QEMU binary and the guest kernel and
 * initramfs files (their identity: device, inode, size, mtime), so it costs once; the cache
 * is locked, so concurrent callers probe once. Never decides anything but the verdict. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "compat-limits.h"

#define KVM_PROBE_DEADLINE_MS COMPAT_KVM_PROBE_MS
/* Any line of emberd-init's: the kernel booted and ran user space. Not its ready line only:
 * a guest that ends in "emberd-init: FATAL" proved the CPU just as well. */
#define KVM_PROBE_MARKER "emberd-init"
#define KVM_PROBE_EXIT_USABLE 0      /* ember-vmm --probe-kvm exit statuses */
#define KVM_PROBE_EXIT_UNUSABLE 3

typedef struct KvmProbeConfig {
        const char *qemu_bin;   /* NULL = qemu-system-x86_64 in PATH */
        const char *kernel;     /* ELF vmlinux; NULL = no boot probe possible */
        const char *initrd;     /* initramfs with emberd-init */
        const char *cache_path; /* NULL = kvm_probe_cache_path() */
        int deadline_ms;        /* 0 = KVM_PROBE_DEADLINE_MS */
} KvmProbeConfig;

typedef struct KvmVerdict {
        bool usable;
        bool cached;
        char reason[256];
} KvmVerdict;

/* Never fails: whatever stops the probe makes the verdict "unusable" with that reason. */
void kvm_probe(const KvmProbeConfig *c, KvmVerdict *ret);
/* $EMBER_KVM_PROBE_CACHE, else $EMBER_CACHE/kvm-probe, else ~/.cache/ember/kvm-probe,
 * else /var/cache/ember/kvm-probe. */
const char *kvm_probe_cache_path(char *buf, size_t size);
/* The cache key of this host, QEMU and guest images; -errno when a file is missing. */
int kvm_probe_key(const KvmProbeConfig *c, char *buf, size_t size);
/* "kvm: usable (<reason>)" / "kvm: unusable (<reason>)" */
void kvm_probe_format(const KvmVerdict *v, char *buf, size_t size);
/* ember-vmm --probe-kvm: prints the verdict line; returns KVM_PROBE_EXIT_*. kernel and
 * initrd default to vmlinux and initramfs.img in $EMBER_IMAGES or /var/lib/ember/images. */
int kvm_probe_cli(const char *qemu_bin, const char *kernel, const char *initrd);
