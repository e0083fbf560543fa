/* vmm-select.c — which VMM a manager drives (see vmm-select.h). The "auto" policy lives
 * in vmm_select_auto() alone; the KVM verdict is ember-vmm's boot probe (kvm_usable()). */
#include "vmm-select.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/util.h"
#include "../vmm/fc-launch.h"
#include "../vmm/fc-stray.h"

static bool binary_runnable(const char *bin)
{
        if (!bin || !bin[0])
                return false;
        if (strchr(bin, '/'))
                return access(bin, X_OK) == 0;
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *full = NULL;
                if (asprintf(&full, "%s/%s", d, bin) >= 0 && access(full, X_OK) == 0)
                        return true;
        }
        return false;
}

/* ---- the KVM verdict and the accelerator ---- */

#define VMM_PROBE_WAIT_MS 30000 /* ember-vmm's probe boot is bounded at 8 s; a margin */
#define VMM_PROBE_LINE_MAX 512

static char selected_accel[8] = "none"; /* what the last vmm_select() decided */

/* What a QEMU process needs beyond guest RAM and cgroup_memory_overhead_mib (measured: a
 * 256 MiB TCG guest that used all its memory had 177 MiB of QEMU anon RSS — heap plus the
 * translation cache, which the qemu engine caps at 128 MiB — and was OOM-killed in a
 * guest + 128 MiB cgroup). Under KVM there is no translation cache. */
#define VMM_QEMU_TCG_MIB 192
#define VMM_QEMU_KVM_MIB 64

const char *vmm_select_accel(void) { return selected_accel; }

static char *image(const Settings *s, const char *p)
{
        char *r = NULL;
        if (!p || !p[0])
                return NULL;
        if (p[0] == '/' || !s->images_dir)
                return strdup(p);
        return asprintf(&r, "%s/%s", s->images_dir, p) < 0 ? NULL : r;
}

/* The "kvm: ..." line of the probe's output (its stderr may hold log lines too). */
static bool probe_line(const char *text, char *line, size_t size)
{
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (!strncmp(p, "kvm: ", 5)) {
                        snprintf(line, size, "%.*s", (int)strcspn(p, "\n"), p);
                        return true;
                }
        return false;
}

/* ember-vmm's verdict (it boots the real kernel and initramfs under -accel kvm, once, and
 * caches it): /dev/kvm existing proves nothing (DESIGN §2). Spawned like a VMM (fc-launch:
 * on emberd's unfiltered spawner thread), its output in a file of the state dir. */
static bool kvm_usable(const Settings *s, char *line, size_t size)
{
        _cleanup_free_ char *kernel = image(s, s->kernel), *initrd = image(s, s->initrd);
        _cleanup_free_ char *out = NULL, *text = NULL;
        const char *argv[] = {s->vmm_bin, "--probe-kvm", "--kernel", kernel ? kernel : "",
                              initrd ? "--initrd" : NULL, initrd, NULL};
        FcProc p = FC_PROC_INIT;
        size_t len = 0;
        snprintf(line, size, "kvm: unusable (cannot run %s --probe-kvm)",
                 s->vmm_bin ? s->vmm_bin : "ember-vmm");
        if (!binary_runnable(s->vmm_bin) || !s->state_dir || mkdir_p(s->state_dir, 0700) < 0 ||
            asprintf(&out, "%s/.kvm-probe.%d", s->state_dir, (int)getpid()) < 0) {
                out = NULL;
                return false;
        }
        (void)unlink(out);
        if (fc_launch_spawn(argv, s->state_dir, out, &p) < 0)
                return false;
        if (fc_launch_wait_exit(&p, now_ms() + VMM_PROBE_WAIT_MS) <= 0)
                fc_launch_kill(&p);
        (void)fc_launch_reap(&p);
        fc_launch_close(&p);
        if (read_file(out, VMM_PROBE_LINE_MAX * 8, &text, &len) == 0 && !probe_line(text, line, size))
                snprintf(line, size, "kvm: unusable (the probe printed no verdict)");
        (void)unlink(out);
        return p.how == CLD_EXITED && p.status == 0 && !strncmp(line, "kvm: usable", 11);
}

/* auto: Firecracker when it and a usable KVM exist, else the qemu engine (KVM or TCG). The
 * qemu engine is told the accelerator: ember-vmm may run jailed, where it could not probe. */
static VmmKind vmm_select_auto(const Settings *s, bool *ret_kvm)
{
        char line[VMM_PROBE_LINE_MAX + 32];
        bool fc = binary_runnable(s->firecracker_bin);
        bool kvm = kvm_usable(s, line, sizeof(line));
        *ret_kvm = kvm;
        VmmKind k = fc && kvm ? VMM_FIRECRACKER : VMM_QEMU;
        log_info("vmm auto: %s, accelerator %s (%s; firecracker %s)",
                 k == VMM_FIRECRACKER ? "firecracker" : "ember-vmm's qemu engine",
                 kvm ? "kvm" : "tcg", line, fc ? "found" : "not found");
        return k;
}

static bool qemu_kvm(const Settings *s)
{
        char line[VMM_PROBE_LINE_MAX + 32];
        bool kvm = kvm_usable(s, line, sizeof(line));
        log_info("vmm qemu: accelerator %s (%s)", kvm ? "kvm" : "tcg", line);
        return kvm;
}

static const struct {
        const char *engine; /* NULL = the binary is firecracker_bin, no engine flag */
} engines[] = {
        [VMM_FIRECRACKER] = {NULL},
        [VMM_QEMU] = {"qemu"},
        [VMM_PROCESS] = {"process"},
};

static int make_argv(const char *bin, const char *engine, const char *accel, char ***ret)
{
        const char *src[] = {bin, engine ? "--engine" : NULL, engine, accel ? "--accel" : NULL,
                             accel, NULL};
        char **argv = calloc(ELEMENTSOF(src), sizeof(char *));
        bool ok = argv != NULL;
        for (size_t i = 0; ok && src[i]; i++)
                ok = (argv[i] = strdup(src[i])) != NULL;
        if (!ok) {
                vmm_select_free(argv);
                return -ENOMEM;
        }
        *ret = argv;
        return 0;
}

int vmm_select(const Settings *s, VmmKind *ret_kind, char ***ret_argv, Err *e)
{
        bool kvm = false, probed = s->vmm == VMM_AUTO;
        VmmKind k = s->vmm == VMM_AUTO ? vmm_select_auto(s, &kvm) : s->vmm;
        if ((size_t)k >= ELEMENTSOF(engines) || k == VMM_AUTO)
                return err_set(e, EINVAL, "vmm: unknown kind %d", (int)k);
        const char *engine = engines[k].engine;
        const char *bin = engine ? s->vmm_bin : s->firecracker_bin;
        if (!bin || !bin[0])
                return err_set(e, EINVAL, "vmm: %s needs %s to be set", vmm_kind_name(k),
                               engine ? "vmm_bin" : "firecracker_bin");
        if (k == VMM_QEMU && !probed)
                kvm = qemu_kvm(s);
        const char *accel = k == VMM_FIRECRACKER ? "kvm" : k == VMM_QEMU ? (kvm ? "kvm" : "tcg")
                                                                          : "none";
        if (make_argv(bin, engine, k == VMM_QEMU ? accel : NULL, ret_argv) < 0)
                return err_set(e, ENOMEM, "out of memory");
        snprintf(selected_accel, sizeof(selected_accel), "%s", accel);
        *ret_kind = k;
        return 0;
}

void vmm_select_free(char **argv)
{
        for (size_t i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
}

/* ---- jailer and host cgroup ---- */

#define VMM_JAIL_PARENT_DEFAULT "ember"
/* the longest host path in a jail: <base>/<exec>/<id>/root/v.sock_<u32> */
#define VMM_JAIL_LONGEST "/sb-0123456789abcdef/root" FC_JAIL_VSOCK "_4294967295"

/* An executable named bin: bin itself when it has a '/', else the first in PATH. */
static char *locate(const char *bin)
{
        if (strchr(bin, '/'))
                return access(bin, X_OK) == 0 ? realpath(bin, NULL) : NULL;
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *full = NULL;
                if (asprintf(&full, "%s/%s", d, bin) >= 0 && access(full, X_OK) == 0)
                        return realpath(full, NULL);
        }
        return NULL;
}

/* The first of dir(bin)/rel[i] that is executable. */
static char *beside(const char *bin, const char *const *rel, size_t n)
{
        _cleanup_free_ char *full = locate(bin);
        char *slash = full ? strrchr(full, '/') : NULL;
        if (!slash)
                return NULL;
        *slash = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", full, rel[i]) >= 0 && access(p, X_OK) == 0)
                        return realpath(p, NULL);
        }
        return NULL;
}

static char *find_jailer(const Settings *s, VmmKind k)
{
        static const char *const fc[] = {"jailer"};
        /* installed side by side, or the build tree (<build>/src/compat, <build>/src/jailer) */
        static const char *const ember[] = {"ember-jailer", "../jailer/ember-jailer"};
        if (k == VMM_FIRECRACKER) {
                char *j = beside(s->firecracker_bin, fc, ELEMENTSOF(fc));
                return j ? j : locate("jailer");
        }
        return beside(s->vmm_bin, ember, ELEMENTSOF(ember));
}

static int resolve_jailer(const Settings *s, VmmKind k, char **ret, Err *e)
{
        const char *want = s->jailer_bin;
        *ret = NULL;
        if (!want || !want[0] || !strcmp(want, "none"))
                return 0;
        if (strcmp(want, "auto") != 0) {
                if (!(*ret = locate(want)))
                        return err_set(e, ENOENT, "jailer_bin: %s is not an executable", want);
                return 0;
        }
        if (geteuid() != 0) /* a jailer must run as root (FACTS §5) */
                return 0;
        *ret = find_jailer(s, k);
        return 0;
}

static char *find_init(const Settings *s)
{
        static const char *const rel[] = {"emberd-init", "../guest/init/emberd-init",
                                          "../../guest/init/emberd-init"};
        const char *env = getenv("EMBER_INIT");
        if (env && *env)
                return realpath(env, NULL);
        return beside(s->vmm_bin, rel, ELEMENTSOF(rel));
}

static int resolve_cgroup(const Settings *s, VmmJail *j, Err *e)
{
        static const char *const controllers[] = {"cpu", "memory", "pids", NULL};
        int v = s->cgroup_version;
        if (v < 0)
                v = geteuid() == 0 ? MAX(cgroup_detect(NULL, controllers), 0) : 0;
        const char *parent = s->parent_cgroup && s->parent_cgroup[0] ? s->parent_cgroup
                                                                     : VMM_JAIL_PARENT_DEFAULT;
        if (!cgroup_parent_valid(parent))
                return err_set(e, EINVAL, "parent_cgroup '%s' must be a relative path without "
                               "'.' or '..'", parent);
        if (!(j->parent = strdup(parent)))
                return err_set(e, ENOMEM, "out of memory");
        j->cgroup = (FcCgroupConfig){
                .version = v,
                .parent = j->parent,
                .cpu_pct_per_vcpu = s->cgroup_cpu_pct,
                .mem_overhead_mib = s->cgroup_mem_overhead_mib,
                .pids_max = s->cgroup_pids_max,
        };
        return 0;
}

/* ember-vmm is not static: it needs the host's libraries (and qemu its firmware) read-only;
 * the process engine also needs loop devices and stays root (docs/threat-model.md). */
static int compat_jail(const Settings *s, VmmKind k, VmmJail *j, Err *e)
{
        static const char *const ro[] = {"/usr", "/lib", "/lib64"};
        size_t n = 0;
        struct stat st;
        for (size_t i = 0; i < ELEMENTSOF(ro); i++)
                if (lstat(ro[i], &st) == 0) {
                        j->args[n++] = "--bind-ro";
                        j->args[n++] = ro[i];
                }
        j->args[n++] = "--extra-dev";
        j->args[n++] = "null";
        if (k != VMM_PROCESS)
                return 0;
        j->args[n++] = "--extra-dev";
        j->args[n++] = "loop";
        j->jail.uid = j->jail.gid = 0;
        if (!(j->init = find_init(s)))
                return err_set(e, ENOENT, "jail: emberd-init not found beside %s (set EMBER_INIT)",
                               s->vmm_bin);
        j->files[0] = j->init;
        j->vmm_args[0] = "--init";
        j->vmm_args[1] = "/emberd-init";
        return 0;
}

static int jail_base(const Settings *s, VmmJail *j, Err *e)
{
        int r = s->chroot_base && s->chroot_base[0]
                        ? ((j->chroot_base = strdup(s->chroot_base)) ? 0 : -ENOMEM)
                        : (asprintf(&j->chroot_base, "%s/jail", s->state_dir) < 0 ? -ENOMEM : 0);
        if (r < 0)
                return err_set(e, ENOMEM, "out of memory");
        if ((r = mkdir_p(j->chroot_base, 0700)) < 0)
                return err_set(e, -r, "chroot_base %s: %s", j->chroot_base, strerror(-r));
        _cleanup_free_ char *abs = realpath(j->chroot_base, NULL);
        size_t len = (abs ? strlen(abs) : 0) + 1 + strlen(j->exec_name) + strlen(VMM_JAIL_LONGEST);
        if (!abs || len >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return err_set(e, ENAMETOOLONG, "chroot_base '%s' is too long: the VMM's socket "
                               "paths in its jails would not fit the 108 bytes of a Unix socket "
                               "address", j->chroot_base);
        free(j->chroot_base);
        j->chroot_base = TAKE_PTR(abs);
        return 0;
}

void vmm_select_jail_sweep(const VmmJail *j, bool (*keep)(void *ud, const char *id), void *ud)
{
        unsigned dirs = 0;
        if (!j->jailed)
                return;
        /* first what no pid file names: jailers that were still at work, their VMMs */
        int strays = fc_stray_kill_jailed(j->chroot_base, j->exec_name, &j->cgroup, keep, ud);
        int killed = MAX(strays, 0) + fc_jail_stale_cleanup(j->chroot_base, j->exec_name,
                                                            &j->cgroup, keep, ud, &dirs);
        if (killed > 0 || dirs)
                log_warn("removed %u jails and killed %d jailed VMMs left by a previous run", dirs,
                         killed);
}

int vmm_select_jail(const Settings *s, VmmKind k, const char *const *vmm_argv, VmmJail *ret,
                    Err *e)
{
        VmmJail *j = ret;
        *j = (VmmJail){0};
        int r = resolve_cgroup(s, j, e);
        if (k == VMM_QEMU) /* QEMU itself beside guest RAM: heap, TCG's translation cache */
                j->cgroup.mem_overhead_mib += strcmp(selected_accel, "kvm") ? VMM_QEMU_TCG_MIB
                                                                            : VMM_QEMU_KVM_MIB;
        if (r >= 0)
                r = resolve_jailer(s, k, &j->jailer, e);
        if (r < 0 || !j->jailer)
                return r;
        _cleanup_free_ char *exec = realpath(vmm_argv[0], NULL);
        const char *name = exec ? strrchr(exec, '/') : NULL;
        if (!name)
                return err_set(e, ENOENT, "jail: cannot find the VMM %s", vmm_argv[0]);
        if (!(j->exec_name = strdup(name + 1)))
                return err_set(e, ENOMEM, "out of memory");
        j->jail = (FcJailConfig){.jailer = j->jailer, .uid = s->jail_uid, .gid = s->jail_gid,
                                 .netns = true, .jailer_args = j->args, .files = j->files,
                                 .vmm_args = j->vmm_args};
        if (k != VMM_FIRECRACKER && (r = compat_jail(s, k, j, e)) < 0)
                return r;
        if ((r = jail_base(s, j, e)) < 0)
                return r;
        j->jail.chroot_base = j->chroot_base;
        j->jailed = true;
        return 0;
}

void vmm_select_jail_free(VmmJail *j)
{
        if (!j)
                return;
        fc_jail_cgroup_remove_parent(&j->cgroup);
        free(j->jailer);
        free(j->chroot_base);
        free(j->init);
        free(j->parent);
        free(j->exec_name);
        *j = (VmmJail){0};
}
