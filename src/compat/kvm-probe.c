/* kvm-probe.c — see kvm-probe.h. Three steps: the cheap device checks (open /dev/kvm, API
 * version, KVM_CREATE_VM; never cached), the cache (flock'd file, one line), and the boot. */
#include "kvm-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"
#include "qemu-args.h"
#include "qemu-proc.h"

#define CACHE_MAGIC "ember-kvm-probe/1"
#define CACHE_MAX 2048
#define PROBE_MEM_MIB 128
#define PROBE_CMDLINE "console=ttyS0 reboot=k panic=1 ember.root=none"
#define DEFAULT_QEMU "qemu-system-x86_64"

static bool set_reason(KvmVerdict *v, bool usable, const char *fmt, ...) _printf_(3, 4);
static bool set_reason(KvmVerdict *v, bool usable, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
        va_end(ap);
        v->usable = usable;
        return usable;
}

/* ---- step 1: the device ---- */

static bool device_ok(KvmVerdict *v)
{
        _cleanup_close_ int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return set_reason(v, false, "cannot open /dev/kvm: %s", strerror(errno));
        int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
        if (api != KVM_API_VERSION)
                return set_reason(v, false, "/dev/kvm API version %d, not %d", api, KVM_API_VERSION);
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return set_reason(v, false, "KVM_CREATE_VM: %s", strerror(errno));
        close(vm);
        return true;
}

/* ---- step 2: the cache ---- */

const char *kvm_probe_cache_path(char *buf, size_t size)
{
        const char *p = getenv("EMBER_KVM_PROBE_CACHE"), *c = getenv("EMBER_CACHE");
        const char *home = getenv("HOME");
        if (p && *p)
                snprintf(buf, size, "%s", p);
        else if (c && *c)
                snprintf(buf, size, "%s/kvm-probe", c);
        else if (home && *home)
                snprintf(buf, size, "%s/.cache/ember/kvm-probe", home);
        else
                snprintf(buf, size, "/var/cache/ember/kvm-probe");
        return buf;
}

static int identity(const char *path, char *out, size_t size)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        snprintf(out, size, "%llx:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
        return 0;
}

/* The QEMU binary as PATH resolves it (its identity changes with every upgrade). */
static int qemu_identity(const char *bin, char *out, size_t size)
{
        if (strchr(bin, '/'))
                return identity(bin, out, size);
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL, full[PATH_MAX];
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                snprintf(full, sizeof(full), "%s/%s", d, bin);
                if (access(full, X_OK) == 0)
                        return identity(full, out, size);
        }
        return -ENOENT;
}

int kvm_probe_key(const KvmProbeConfig *c, char *buf, size_t size)
{
        struct utsname u;
        char q[128], k[128], i[128] = "none";
        if (uname(&u) < 0)
                return -errno;
        int r = qemu_identity(c->qemu_bin ? c->qemu_bin : DEFAULT_QEMU, q, sizeof(q));
        if (r >= 0)
                r = c->kernel ? identity(c->kernel, k, sizeof(k)) : -ENOENT;
        if (r >= 0 && c->initrd)
                r = identity(c->initrd, i, sizeof(i));
        if (r < 0)
                return r;
        snprintf(buf, size, "host=%s qemu=%s kernel=%s initrd=%s", u.release, q, k, i);
        return 0;
}

/* "<magic>\t<key>\t<usable|unusable>\t<reason>\n"; true when it matches key. */
static bool cache_read(int fd, const char *key, KvmVerdict *v)
{
        char buf[CACHE_MAX + 1];
        ssize_t n = pread(fd, buf, CACHE_MAX, 0);
        if (n <= 0)
                return false;
        buf[n] = 0;
        char *save = NULL;
        const char *magic = strtok_r(buf, "\t", &save), *k = strtok_r(NULL, "\t", &save);
        const char *verdict = strtok_r(NULL, "\t", &save), *reason = strtok_r(NULL, "\n", &save);
        if (!magic || strcmp(magic, CACHE_MAGIC) || !k || strcmp(k, key) || !verdict || !reason)
                return false;
        if (strcmp(verdict, "usable") && strcmp(verdict, "unusable"))
                return false;
        set_reason(v, !strcmp(verdict, "usable"), "%s", reason);
        v->cached = true;
        return true;
}

static void cache_write(int fd, const char *key, const KvmVerdict *v)
{
        char line[CACHE_MAX];
        int n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\n", CACHE_MAGIC, key,
                         v->usable ? "usable" : "unusable", v->reason);
        if (n <= 0 || (size_t)n >= sizeof(line) || ftruncate(fd, 0) < 0)
                return;
        ssize_t _unused_ w = pwrite(fd, line, (size_t)n, 0);
}

/* An exclusively locked cache file, or -1 when there can be none (the probe still runs). */
static int cache_open(const KvmProbeConfig *c)
{
        char path[PATH_MAX];
        if (c->cache_path)
                snprintf(path, sizeof(path), "%s", c->cache_path);
        else
                kvm_probe_cache_path(path, sizeof(path));
        char *slash = strrchr(path, '/');
        if (slash && slash != path) {
                *slash = 0;
                (void)mkdir_p(path, 0755);
                *slash = '/';
        }
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* ---- step 3: the boot ---- */

typedef struct Boot {
        QemuProc proc;
        int serial, err;
        char window[256]; /* the last console bytes, to find the marker across reads */
        size_t wlen;
        char err_line[160];
} Boot;

static bool saw_marker(Boot *b, const char *p, size_t n)
{
        const size_t keep = sizeof(KVM_PROBE_MARKER);
        while (n > 0) {
                size_t take = MIN(n, sizeof(b->window) - 1 - b->wlen);
                memcpy(b->window + b->wlen, p, take);
                b->wlen += take;
                p += take;
                n -= take;
                b->window[b->wlen] = 0;
                if (memmem(b->window, b->wlen, KVM_PROBE_MARKER, keep - 1))
                        return true;
                if (b->wlen > keep) { /* slide: keep only what could start a marker */
                        memmove(b->window, b->window + b->wlen - keep, keep);
                        b->wlen = keep;
                }
        }
        return false;
}

static void keep_err(Boot *b, const char *p, size_t n)
{
        /* the last non-empty line QEMU printed (e.g. "failed to set MSR ...") */
        const char *end = p + n;
        while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
                end--;
        const char *start = end;
        while (start > p && start[-1] != '\n')
                start--;
        if (end > start)
                snprintf(b->err_line, sizeof(b->err_line), "%.*s", (int)(end - start), start);
}

static int boot_spawn(const KvmProbeConfig *c, Boot *b, Err *e)
{
        int sp[2], ep[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return err_set(e, errno, "socketpair: %s", strerror(errno));
        if (pipe2(ep, O_CLOEXEC) < 0) {
                close(sp[0]);
                close(sp[1]);
                return err_set(e, errno, "pipe: %s", strerror(errno));
        }
        _cleanup_close_ int serial_qemu = sp[1], err_qemu = ep[1];
        b->serial = sp[0];
        b->err = ep[0];
        QemuSpec s = {.qemu_bin = c->qemu_bin ? c->qemu_bin : DEFAULT_QEMU, .name = "ember-kvm-probe",
                      .kvm = true, .vcpus = 1, .mem_mib = PROBE_MEM_MIB, .kernel = c->kernel,
                      .initrd = c->initrd, .cmdline = PROBE_CMDLINE, .vsock_fd = -1,
                      .serial_fd = serial_qemu, .qmp_fd = -1};
        char **argv = NULL;
        int r = qemu_args_build(&s, &argv, e);
        if (r < 0)
                return r;
        int keep[] = {serial_qemu};
        r = qemu_proc_spawn(argv, keep, ELEMENTSOF(keep), err_qemu, &b->proc, e);
        qemu_args_free(argv);
        return r;
}

/* Reads console and stderr until the marker, QEMU's exit or the deadline. */
static bool boot_watch(Boot *b, int64_t t0, int64_t deadline, KvmVerdict *v)
{
        struct pollfd p[3] = {{.fd = b->serial, .events = POLLIN},
                              {.fd = b->err, .events = POLLIN},
                              {.fd = b->proc.pidfd, .events = POLLIN}};
        char buf[4096];
        for (;;) {
                int left = deadline_left(deadline);
                if (left == 0)
                        return set_reason(v, false, "a guest under KVM did not reach its init "
                                          "within %lld ms", (long long)(deadline - t0));
                if (poll(p, 3, left) < 0 && errno != EINTR)
                        return set_reason(v, false, "poll: %s", strerror(errno));
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        ssize_t n = read(p[i].fd, buf, sizeof(buf));
                        if (n <= 0) {
                                p[i].fd = -1;
                                continue;
                        }
                        if (i == 1)
                                keep_err(b, buf, (size_t)n);
                        else if (saw_marker(b, buf, (size_t)n))
                                return set_reason(v, true, "a guest booted to its init under "
                                                  "KVM in %lld ms", (long long)(now_ms() - t0));
                }
                /* QEMU gone: stop once its output is drained */
                if (p[2].revents && p[0].fd < 0 && p[1].fd < 0) {
                        char how[96];
                        (void)qemu_proc_reap(&b->proc, how, sizeof(how));
                        return set_reason(v, false, "QEMU with -accel kvm %s%s%s", how,
                                          b->err_line[0] ? ": " : "", b->err_line);
                }
        }
}

static void boot_probe(const KvmProbeConfig *c, KvmVerdict *v)
{
        Boot b = {.proc = QEMU_PROC_INIT, .serial = -1, .err = -1};
        Err e = {0};
        int64_t t0 = now_ms();
        if (boot_spawn(c, &b, &e) >= 0)
                (void)boot_watch(&b, t0, t0 + (c->deadline_ms > 0 ? c->deadline_ms
                                                                 : KVM_PROBE_DEADLINE_MS), v);
        else
                set_reason(v, false, "%s", e.msg);
        qemu_proc_release(&b.proc);
        closep(&b.serial);
        closep(&b.err);
}

/* ---- the verdict ---- */

void kvm_probe(const KvmProbeConfig *c, KvmVerdict *ret)
{
        char key[1024];
        *ret = (KvmVerdict){.usable = false};
        if (!device_ok(ret))
                return;
        int r = kvm_probe_key(c, key, sizeof(key));
        if (r < 0) {
                set_reason(ret, false, "cannot boot a probe guest (QEMU, kernel or initramfs: %s)",
                           strerror(-r));
                return;
        }
        _cleanup_close_ int fd = cache_open(c);
        if (fd >= 0 && cache_read(fd, key, ret))
                return;
        boot_probe(c, ret);
        if (fd >= 0)
                cache_write(fd, key, ret);
}

void kvm_probe_format(const KvmVerdict *v, char *buf, size_t size)
{
        snprintf(buf, size, "kvm: %s (%s%s)", v->usable ? "usable" : "unusable", v->reason,
                 v->cached ? "; cached" : "");
}

int kvm_probe_cli(const char *qemu_bin, const char *kernel, const char *initrd)
{
        const char *dir = getenv("EMBER_IMAGES");
        char k[PATH_MAX], i[PATH_MAX], line[384];
        KvmVerdict v;
        if (!dir || !*dir)
                dir = "/var/lib/ember/images";
        snprintf(k, sizeof(k), "%s/vmlinux", dir);
        snprintf(i, sizeof(i), "%s/initramfs.img", dir);
        KvmProbeConfig c = {.qemu_bin = qemu_bin, .kernel = kernel ? kernel : k,
                            .initrd = initrd ? initrd : i};
        kvm_probe(&c, &v);
        kvm_probe_format(&v, line, sizeof(line));
        printf("%s\n", line);
        return v.usable ? KVM_PROBE_EXIT_USABLE : KVM_PROBE_EXIT_UNUSABLE;
}
