/* engine-qemu.c — the qemu engine: the real guest kernel, initramfs and drives under QEMU 7.2
 * (q35; KVM when the probe says it is usable, else TCG), virtio-vsock through ember-vmm's own
 * vhost-user backend serving Firecracker's hybrid socket, the serial console into the
 * console fd, QMP for control. QEMU is our child and dies with us; when it exits (guest
 * reboot, panic, crash) the engine's exit fd fires. Must leave nothing behind: no QEMU, no
 * socket file, no memfd (it lives and dies inside QEMU). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/util.h"
#include "../vhost/vhost-vsock.h"
#include "engine.h"
#include "kvm-probe.h"
#include "qemu-args.h"
#include "qemu-console.h"
#include "qemu-proc.h"
#include "qmp.h"

#define QEMU_START_DEADLINE_MS COMPAT_QEMU_START_MS /* spawn -> QMP greeting -> cont */
#define QEMU_QMP_DEADLINE_MS COMPAT_QMP_COMMAND_MS  /* one QMP command on a running QEMU */
#define QEMU_DRAIN_MS COMPAT_QEMU_DRAIN_MS          /* QEMU exited: its last bytes reach the file */
#define VHOST_SUFFIX ".vu"          /* the vhost-user socket: <uds_path>.vu, gone once used */

/* --accel: what the caller decided (emberd probes once, outside any jail), or the probe */
typedef enum { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG } Accel;
static const char *const accel_names[] = {[ACCEL_AUTO] = "auto", [ACCEL_KVM] = "kvm",
                                          [ACCEL_TCG] = "tcg"};

struct Engine {
        char *qemu_bin;
        Accel accel;
        int uds_fd;              /* attach_vsock's listener until start hands it over */
        VhostVsock *vhost;
        QemuProc proc;
        QemuConsole *console;
        int qmp_fd;
        Qmp *qmp;
        bool kvm;
};

/* Kernel arguments the engine adds, as Firecracker adds its own; put before the caller's,
 * so that theirs win (the kernel keeps the last value of a key). Measured here under TCG,
 * QEMU's CPU time from spawn to the agent's ready line (median of 5, python pack): none
 * 4.06 s; cryptomgr.notests (no crypto self-tests) + no_timer_check (no TCG timer-check
 * stall) 3.60 s; adding mitigations=off nokaslr 3.55 s, within the noise, so the guest keeps
 * KASLR and its mitigations; quiet 3.66 s, so the kernel's log stays on the console;
 * -accel tcg,thread=single 4.06 s, so MTTCG stays. Under KVM only the self-tests go. */
static const struct {
        bool kvm;
        const char *args;
} tuning[] = {
        {false, "cryptomgr.notests no_timer_check"},
        {true, "cryptomgr.notests"},
};

static int parse_accel(const char *s, Accel *ret, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(accel_names); i++)
                if (!strcmp(s ? s : "auto", accel_names[i])) {
                        *ret = (Accel)i;
                        return 0;
                }
        return err_set(e, EINVAL, "--accel %s: use auto, kvm or tcg", s);
}

static int qemu_create(const EngineConfig *cfg, Engine **ret, Err *e)
{
        Accel accel = ACCEL_AUTO;
        int r = parse_accel(cfg->accel, &accel, e);
        if (r < 0)
                return r;
        Engine *en = calloc(1, sizeof(*en));
        const char *bin = cfg->qemu_bin && *cfg->qemu_bin ? cfg->qemu_bin : "qemu-system-x86_64";
        if (!en || !(en->qemu_bin = strdup(bin))) {
                free(en);
                return err_set(e, ENOMEM, "out of memory");
        }
        en->uds_fd = en->qmp_fd = -1;
        en->proc = QEMU_PROC_INIT;
        en->accel = accel;
        *ret = en;
        return 0;
}

static int qemu_attach_vsock(Engine *en, int listen_fd, Err *e)
{
        closep(&en->uds_fd);
        en->uds_fd = listen_fd;
        return 0;
}

/* Everything of one start; a failed start releases all of it and may be retried. */
static void forget_guest(Engine *en)
{
        qemu_proc_release(&en->proc);
        qemu_console_free(en->console);
        en->console = NULL;
        free(en->qmp);
        en->qmp = NULL;
        closep(&en->qmp_fd);
        en->qmp_fd = -1;
        vhost_vsock_free(en->vhost);
        en->vhost = NULL;
}

static void choose_accel(Engine *en, const Model *m)
{
        if (en->accel != ACCEL_AUTO) {
                en->kvm = en->accel == ACCEL_KVM;
                log_info("qemu engine: accelerator %s (--accel)", accel_names[en->accel]);
                return;
        }
        KvmProbeConfig pc = {.qemu_bin = en->qemu_bin, .kernel = m->boot.kernel_image_path,
                             .initrd = m->boot.initrd_path};
        KvmVerdict v;
        char line[320];
        kvm_probe(&pc, &v);
        kvm_probe_format(&v, line, sizeof(line));
        en->kvm = v.usable;
        log_info("qemu engine: %s; accelerator %s", line, en->kvm ? "kvm" : "tcg");
}

static char *kernel_cmdline(const Engine *en, const Model *m)
{
        const char *pre = "";
        char *s = NULL;
        for (size_t i = 0; i < ELEMENTSOF(tuning); i++)
                if (tuning[i].kvm == en->kvm)
                        pre = tuning[i].args;
        return asprintf(&s, "%s %s", pre, model_cmdline(m)) < 0 ? NULL : s;
}

/* The vhost-user backend adopts the hybrid listener; QEMU gets a socket already connected
 * to it, and the socket's name is removed at once (nothing else may become the front-end). */
static int vsock_setup(Engine *en, const Model *m, int *ret_fd, Err *e)
{
        char path[PATH_MAX];
        *ret_fd = -1;
        if (!m->has_vsock)
                return 0;
        if (en->uds_fd < 0)
                return err_set(e, EINVAL, "vsock: no listener was handed over");
        snprintf(path, sizeof(path), "%s" VHOST_SUFFIX, m->vsock.uds_path);
        VhostVsockConfig vc = {.vhost_socket = path, .uds_path = m->vsock.uds_path,
                               .guest_cid = m->vsock.guest_cid};
        int fd = -1;
        /* the model keeps its own fd: a retried start gets a new one through attach_vsock */
        int r = vhost_vsock_new_adopt(&vc, TAKE_FD(en->uds_fd), &en->vhost, e);
        if (r >= 0)
                r = vhost_vsock_start(en->vhost, e);
        if (r >= 0 && (r = unix_connect(path, &fd)) < 0)
                err_set(e, -r, "vsock: cannot reach the vhost-user backend: %s", strerror(-r));
        (void)unlink(path);
        *ret_fd = fd;
        return r < 0 ? r : 0;
}

static void fill_drives(const Model *m, QemuDrive *d)
{
        for (unsigned i = 0; i < m->n_drives; i++)
                d[i] = (QemuDrive){.id = m->drives[i].cfg.drive_id, .fd = m->drives[i].fd,
                                   .read_only = m->drives[i].cfg.is_read_only,
                                   .writeback = m->drives[i].cfg.cache_type == 1};
}

static void fill_rng(const Model *m, QemuSpec *s)
{
        const RateLimiterBody *rl = &m->entropy.rate_limiter;
        s->rng = m->has_entropy;
        if (s->rng && (rl->present >> RL_BANDWIDTH & 1u)) {
                s->rng_bytes = rl->bandwidth.size;
                s->rng_period_ms = rl->bandwidth.refill_time;
        }
}

static int check_model(const Model *m, Err *e)
{
        for (unsigned i = 0; i < m->n_drives; i++)
                if (m->drives[i].fd < 0)
                        return err_set(e, EINVAL, "drive '%s': vhost-user block devices are not "
                                       "supported by the qemu engine", m->drives[i].cfg.drive_id);
        if (!m->has_boot || !m->boot.kernel_image_path)
                return err_set(e, EINVAL, "no kernel");
        return 0;
}

typedef struct Pipes {
        int serial[2], err[2], qmp[2]; /* [0] ours, [1] QEMU's */
} Pipes;

static void pipes_close(Pipes *p)
{
        int *all[] = {p->serial, p->err, p->qmp};
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                closep(&all[i][0]);
                closep(&all[i][1]);
                all[i][0] = all[i][1] = -1;
        }
}

static int pipes_open(Pipes *p, Err *e)
{
        *p = (Pipes){{-1, -1}, {-1, -1}, {-1, -1}};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->serial) < 0 ||
            pipe2(p->err, O_CLOEXEC) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->qmp) < 0) {
                int r = err_set(e, errno, "cannot make QEMU's pipes: %s", strerror(errno));
                pipes_close(p);
                return r;
        }
        return 0;
}

static int spawn(Engine *en, const Model *m, const QemuSpec *s, Pipes *p, Err *e)
{
        int keep[8 + COMPAT_MAX_DRIVES];
        size_t n = 0;
        char **argv = NULL;
        int r = qemu_args_build(s, &argv, e);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < s->n_drives; i++)
                keep[n++] = s->drives[i].fd;
        if (s->vsock_fd >= 0)
                keep[n++] = s->vsock_fd;
        keep[n++] = p->serial[1];
        keep[n++] = p->qmp[1];
        r = qemu_proc_spawn(argv, keep, n, p->err[1], &en->proc, e);
        qemu_args_free(argv);
        return r;
}

/* QEMU is up: the console thread takes our ends, QMP answers, the vCPUs run. */
static int bring_up(Engine *en, Pipes *p, int console_fd, Err *e)
{
        int64_t deadline = now_ms() + QEMU_START_DEADLINE_MS;
        closep(&p->serial[1]);
        closep(&p->err[1]);
        closep(&p->qmp[1]);
        p->serial[1] = p->err[1] = p->qmp[1] = -1;
        int r = qemu_console_start(TAKE_FD(p->serial[0]), TAKE_FD(p->err[0]), console_fd,
                                   &en->console, e);
        if (r < 0)
                return r;
        en->qmp_fd = TAKE_FD(p->qmp[0]);
        en->qmp = malloc(sizeof(*en->qmp));
        if (!en->qmp)
                return err_set(e, ENOMEM, "out of memory");
        if ((r = qmp_init(en->qmp, en->qmp_fd)) < 0)
                return err_set(e, -r, "QMP: %s", strerror(-r));
        r = qmp_handshake(en->qmp, deadline, e);
        if (r >= 0)
                r = qmp_execute(en->qmp, "cont", NULL, deadline, NULL, e);
        return r;
}

/* A failed start: QEMU's own last words say more than "QMP: QEMU closed the monitor". */
static int start_failed(Engine *en, int r, Err *e)
{
        char last[QEMU_CONSOLE_LINE_MAX], how[96] = "";
        if (en->proc.pid) {
                qemu_proc_kill(&en->proc);
                (void)qemu_proc_reap(&en->proc, how, sizeof(how));
        }
        qemu_console_finish(en->console, now_ms() + QEMU_DRAIN_MS);
        qemu_console_last_error(en->console, last, sizeof(last));
        if (last[0])
                err_prefix(e, "QEMU %s (%s)", how[0] ? how : "failed", last);
        forget_guest(en);
        return r;
}

static int qemu_start(Engine *en, const Model *m, int console_fd, Err *e)
{
        QemuDrive drives[COMPAT_MAX_DRIVES];
        Pipes p;
        forget_guest(en);
        int r = check_model(m, e);
        if (r < 0)
                return r;
        choose_accel(en, m);
        _cleanup_free_ char *cmdline = kernel_cmdline(en, m);
        if (!cmdline)
                return err_set(e, ENOMEM, "out of memory");
        fill_drives(m, drives);
        QemuSpec s = {.qemu_bin = en->qemu_bin, .name = m->id, .kvm = en->kvm,
                      .vcpus = (unsigned)m->machine.vcpu_count,
                      .mem_mib = (unsigned)m->machine.mem_size_mib, .smt = m->machine.smt,
                      .huge_pages = m->machine.huge_pages == HUGE_PAGES_2M,
                      .kernel = m->boot.kernel_image_path, .initrd = m->boot.initrd_path,
                      .cmdline = cmdline,
                      .drives = drives, .n_drives = m->n_drives, .paused = true};
        fill_rng(m, &s);
        _cleanup_close_ int vsock_fd = -1;
        if ((r = vsock_setup(en, m, &vsock_fd, e)) < 0 || (r = pipes_open(&p, e)) < 0)
                return start_failed(en, r, e);
        s.vsock_fd = vsock_fd;
        s.serial_fd = p.serial[1];
        s.qmp_fd = p.qmp[1];
        r = spawn(en, m, &s, &p, e);
        if (r >= 0)
                r = bring_up(en, &p, console_fd, e);
        pipes_close(&p);
        if (r < 0)
                return start_failed(en, r, e);
        log_info("qemu engine: QEMU %d runs the guest (%s, %u vCPU, %u MiB)", (int)en->proc.pid,
                 en->kvm ? "kvm" : "tcg", s.vcpus, s.mem_mib);
        return 0;
}

/* emberd-init turns Ctrl-Alt-Del (RB_DISABLE_CAD: SIGINT) into an orderly reboot, and
 * reboot=k + -no-reboot turn the reboot into QEMU's exit, as under Firecracker. */
static int qemu_ctrl_alt_del(Engine *en, Err *e)
{
        if (!en->qmp || !en->proc.pid || en->proc.reaped)
                return err_set(e, ESRCH, "the guest is not running");
        json_t *keys = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "keys", "type", "qcode",
                                 "data", "ctrl", "type", "qcode", "data", "alt", "type", "qcode",
                                 "data", "delete");
        if (!keys)
                return err_set(e, ENOMEM, "out of memory");
        return qmp_execute(en->qmp, "send-key", keys, now_ms() + QEMU_QMP_DEADLINE_MS, NULL, e);
}

static int qemu_exit_fd(Engine *en) { return en->proc.pid && !en->proc.reaped ? en->proc.pidfd : -1; }

/* QEMU exits 0 when the guest ends itself (reboot=k, panic=1 and -no-reboot: a reboot
 * ends QEMU, as it ends Firecracker). Anything else is the VMM failing: a signal (the
 * host's OOM killer, a crash) or an error status. */
static int qemu_reap(Engine *en, char *how, size_t how_size)
{
        int r = qemu_proc_reap(&en->proc, how, how_size);
        char last[QEMU_CONSOLE_LINE_MAX], note[2 * QEMU_CONSOLE_LINE_MAX];
        /* the guest's last words (a FATAL line, a panic) must be in the console file before
         * ember-vmm exits: emberd reads them for its 502 */
        qemu_console_finish(en->console, now_ms() + QEMU_DRAIN_MS);
        if (r < 0 || (en->proc.status.si_code == CLD_EXITED && en->proc.status.si_status == 0))
                return r < 0 ? r : 0;
        qemu_console_last_error(en->console, last, sizeof(last));
        snprintf(note, sizeof(note), "QEMU %s%s%s", how, last[0] ? ": " : "", last);
        log_error("qemu engine: %s", note);
        qemu_console_note(en->console, note);
        return 1; /* FcExitCode::GenericError */
}

static void qemu_destroy(Engine *en)
{
        if (!en)
                return;
        forget_guest(en);
        closep(&en->uds_fd);
        free(en->qemu_bin);
        free(en);
}

const EngineOps engine_qemu_ops = {
        .name = "qemu",
        .create = qemu_create,
        .start = qemu_start,
        .ctrl_alt_del = qemu_ctrl_alt_del,
        .attach_vsock = qemu_attach_vsock,
        .exit_fd = qemu_exit_fd,
        .reap = qemu_reap,
        .destroy = qemu_destroy,
};
