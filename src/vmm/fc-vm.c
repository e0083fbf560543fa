/* fc-vm.c — the FcVm object (see fc-vm.h): launch, the configuration sequence as a table,
 * InstanceStart, and a teardown that leaves no process, socket or file behind.
 * A VMM that dies during any step is reported with its exit status and console tail.
 * Must not know about sandboxes, packs or the agent. */
#include "fc-vm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../shared/util.h"
#include "fc-api.h"
#include "fc-body.h"
#include "fc-launch.h"

#define FC_VM_CMDLINE_MAX (64u * 1024) /* /proc/<pid>/cmdline read by fc_vm_scan */

struct FcVm {
        pthread_mutex_t lock; /* guards proc.reaped/status and stopped */
        char *dir, *api_sock, *vsock, *console, *log;
        FcProc proc;
        uint64_t start_time; /* of the VMM process, for fc_vm_save() */
        FcApi *api;
        int api_timeout_ms;
        bool started, stopped;
        int64_t grace_deadline_ms; /* 0 = SendCtrlAltDel not sent yet */
        /* fc-jail.c: a jailed VMM sees kernel, initrd and rootfs at these paths (NULL = the
         * host paths); the jail and the cgroup are removed once the VMM is gone */
        FcJail jail;
        char *in_kernel, *in_initrd, *in_rootfs;
        const FcCgroupConfig *cgroup; /* set by fc_vm_launch only: adopted VMs keep theirs */
        char *id;
        bool cleaned;
};

static char *path_join(const char *dir, const char *name)
{
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static int vm_alloc(const FcVmConfig *c, FcVm **ret)
{
        FcVm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        pthread_mutex_init(&vm->lock, NULL);
        vm->proc = FC_PROC_INIT;
        vm->jail = FC_JAIL_INIT;
        vm->stopped = true; /* nothing to stop until spawned */
        vm->api_timeout_ms = c->api_timeout_ms > 0 ? c->api_timeout_ms : FC_VM_API_TIMEOUT_MS;
        vm->dir = strdup(c->dir);
        vm->api_sock = path_join(c->dir, "api.sock");
        vm->vsock = path_join(c->dir, "vsock.sock");
        vm->console = path_join(c->dir, "console.log");
        vm->log = path_join(c->dir, "vmm.log");
        vm->id = strdup(c->id);
        *ret = vm;
        if (!vm->dir || !vm->api_sock || !vm->vsock || !vm->console || !vm->log || !vm->id)
                return -ENOMEM;
        return 0;
}

/* Firecracker never unlinks its sockets, and refuses to bind an existing path (FACTS §1.1). */
static void unlink_sockets(const FcVm *vm)
{
        static const char guest_prefix[] = "vsock.sock_"; /* guest-initiated: <uds_path>_<port> */
        (void)unlink(vm->api_sock);
        (void)unlink(vm->vsock);
        DIR *d = opendir(vm->dir);
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));)
                if (!strncmp(de->d_name, guest_prefix, sizeof(guest_prefix) - 1))
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

static int build_argv(const FcVmConfig *c, const FcVm *vm, const char ***ret)
{
        size_t n = 0;
        while (c->argv[n])
                n++;
        const char **argv = calloc(n + 5, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        memcpy(argv, c->argv, n * sizeof(char *));
        argv[n++] = "--api-sock";
        argv[n++] = vm->api_sock;
        argv[n++] = "--id";
        argv[n++] = c->id;
        *ret = argv;
        return 0;
}

static int launch_direct(FcVm *vm, const FcVmConfig *c, Err *e)
{
        _cleanup_free_ const char **argv = NULL;
        int r = build_argv(c, vm, &argv);
        if (r >= 0)
                r = fc_api_new(vm->api_sock, &vm->api);
        if (r < 0)
                return err_set(e, -r, "out of memory");
        unlink_sockets(vm);
        r = fc_launch_spawn(argv, vm->dir, vm->console, &vm->proc);
        if (r < 0)
                return err_set(e, -r, "cannot start the VMM %s: %s", c->argv[0], strerror(-r));
        vm->stopped = false;
        (void)fc_launch_start_time(vm->proc.pid, &vm->start_time); /* our unreaped child */
        /* no guest runs before InstanceStart, so joining the cgroup now is in time */
        vm->cgroup = c->cgroup;
        return fc_jail_cgroup_apply(c->cgroup, c->id, c->vcpus, c->mem_mib, vm->proc.pid, e);
}

/* Host paths of the jail; the files the VMM opens are linked in, seen at /<name>. */
/* The sockets and log of a jailed VMM (launched now, or adopted). */
static int jail_sockets(FcVm *vm)
{
        free(vm->api_sock);
        free(vm->vsock);
        free(vm->log);
        vm->api_sock = path_join(vm->jail.chroot, FC_JAIL_API_SOCK + 1);
        vm->vsock = path_join(vm->jail.chroot, FC_JAIL_VSOCK + 1);
        vm->log = strdup(FC_JAIL_LOG);
        return vm->api_sock && vm->vsock && vm->log ? 0 : -ENOMEM;
}

static int jail_paths(FcVm *vm, const FcVmConfig *c, Err *e)
{
        if (jail_sockets(vm) < 0)
                return err_set(e, ENOMEM, "out of memory");
        int r = fc_jail_link(&vm->jail, c->kernel, &vm->in_kernel, e);
        if (r >= 0 && c->initrd)
                r = fc_jail_link(&vm->jail, c->initrd, &vm->in_initrd, e);
        if (r >= 0 && c->rootfs)
                r = fc_jail_link(&vm->jail, c->rootfs, &vm->in_rootfs, e);
        for (size_t i = 0; r >= 0 && c->jail->files && c->jail->files[i]; i++) {
                _cleanup_free_ char *inside = NULL;
                r = fc_jail_link(&vm->jail, c->jail->files[i], &inside, e);
        }
        return r;
}

/* The jailer forks the VMM into a new pid namespace and exits. As a child subreaper we
 * inherit the orphan and reap it like our own child; were we not its parent, it would be
 * watched through its pidfd only, like an adopted process. */
static int run_jailer(FcVm *vm, const FcVmConfig *c, char **argv, Err *e)
{
        FcProc jp = FC_PROC_INIT;
        int r = fc_launch_spawn((const char *const *)argv, vm->dir, vm->console, &jp);
        if (r < 0)
                return err_set(e, -r, "cannot start the jailer %s: %s", argv[0], strerror(-r));
        int timeout = c->launch_timeout_ms > 0 ? c->launch_timeout_ms : FC_VM_LAUNCH_TIMEOUT_MS;
        bool done = fc_launch_wait_exit(&jp, now_ms() + timeout) > 0;
        if (!done)
                fc_launch_kill(&jp);
        (void)fc_launch_reap(&jp);
        bool ok = done && jp.how == CLD_EXITED && jp.status == 0;
        /* even a failed jailer may have forked the VMM: take it, so that it is killed */
        Err adopt_err = {0};
        r = fc_jail_adopt(&vm->jail, &vm->proc, ok ? e : &adopt_err);
        if (r >= 0) {
                siginfo_t si = {0};
                vm->proc.adopted = waitid(P_PIDFD, (id_t)vm->proc.pidfd, &si,
                                          WEXITED | WNOHANG | WNOWAIT) < 0; /* ECHILD */
                vm->stopped = false;
                (void)fc_launch_start_time(vm->proc.pid, &vm->start_time);
        }
        if (!ok) {
                char how[96], tail[512];
                fc_launch_describe(&jp, how, sizeof(how));
                fc_launch_console_tail(vm->console, tail, sizeof(tail));
                r = done ? err_set(e, EHOSTDOWN, "the jailer %s; console: %s", how, tail)
                         : err_set(e, ETIMEDOUT, "the jailer did not finish in time");
        }
        fc_launch_close(&jp);
        return r;
}

static int launch_jailed(FcVm *vm, const FcVmConfig *c, Err *e)
{
        char netns[64];
        char **argv = NULL;
        vm->cgroup = c->cgroup; /* the jailer makes it; emberd removes it */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* see run_jailer() */
        int r = fc_jail_create(c->jail, c->argv[0], c->id, &vm->jail, e);
        if (r >= 0)
                r = jail_paths(vm, c, e);
        if (r >= 0 && c->jail->netns)
                r = fc_jail_netns(&vm->jail, netns, sizeof(netns), e);
        if (r >= 0 && (r = fc_jail_argv(c->jail, c->cgroup, &vm->jail, c->id, c->vcpus,
                                        c->mem_mib, c->jail->netns ? netns : NULL, c->argv + 1,
                                        &argv)) < 0)
                err_set(e, -r, "jail: %s", strerror(-r));
        if (r >= 0 && (r = fc_api_new(vm->api_sock, &vm->api)) < 0)
                err_set(e, -r, "out of memory");
        if (r >= 0)
                r = run_jailer(vm, c, argv, e);
        fc_jail_argv_free(argv);
        closep(&vm->jail.netns_fd); /* the VMM holds its namespace now */
        vm->jail.netns_fd = -1;
        return r;
}

int fc_vm_launch(const FcVmConfig *c, FcVm **ret, Err *e)
{
        FcVm *vm = NULL;
        int r = vm_alloc(c, &vm);
        if (r < 0)
                err_set(e, -r, "out of memory");
        else
                r = c->jail ? launch_jailed(vm, c, e) : launch_direct(vm, c, e);
        int timeout = c->launch_timeout_ms > 0 ? c->launch_timeout_ms : FC_VM_LAUNCH_TIMEOUT_MS;
        if (r >= 0)
                r = fc_launch_wait_socket(&vm->proc, vm->api_sock, vm->console, now_ms() + timeout, e);
        if (r < 0) {
                fc_vm_free(vm);
                return r;
        }
        *ret = vm;
        return 0;
}

/* ---- configuration ---- */

typedef json_t *(*BodyFn)(const FcVm *vm, const FcVmConfig *c);

static json_t *body_logger(const FcVm *vm, const FcVmConfig *c)
{
        return fc_body_logger(vm->log, "Info");
}
static json_t *body_machine(const FcVm *vm, const FcVmConfig *c)
{
        return fc_body_machine_config(c->vcpus, c->mem_mib);
}
static json_t *body_boot(const FcVm *vm, const FcVmConfig *c)
{
        return fc_body_boot_source(vm->in_kernel ? vm->in_kernel : c->kernel,
                                   vm->in_initrd ? vm->in_initrd : c->initrd, c->boot_args);
}
static json_t *body_drive(const FcVm *vm, const FcVmConfig *c)
{
        return fc_body_drive("rootfs", vm->in_rootfs ? vm->in_rootfs : c->rootfs);
}
static json_t *body_vsock(const FcVm *vm, const FcVmConfig *c)
{
        return fc_body_vsock(FC_GUEST_CID, vm->jail.dir ? FC_JAIL_VSOCK : vm->vsock);
}
static json_t *body_entropy(const FcVm *vm, const FcVmConfig *c) { return fc_body_entropy(); }

static bool has_rootfs(const FcVmConfig *c) { return c->rootfs != NULL; }

/* FACTS §1.5: the order Firecracker's own docs use; all pre-boot calls. */
static const struct {
        const char *path;
        BodyFn body;
        bool (*wanted)(const FcVmConfig *c); /* NULL = always */
} config_steps[] = {
        {"/logger", body_logger, NULL},
        {"/machine-config", body_machine, NULL},
        {"/boot-source", body_boot, NULL},
        {"/drives/rootfs", body_drive, has_rootfs},
        {"/vsock", body_vsock, NULL},
        {"/entropy", body_entropy, NULL},
};

/* An API call failed: if the VMM died meanwhile, that is the real story. */
static int call_failed(FcVm *vm, int r, Err *e)
{
        bool transport = r == -ECONNRESET || r == -ECONNREFUSED || r == -ETIMEDOUT;
        if (fc_launch_wait_exit(&vm->proc, transport ? now_ms() + 200 : 0) > 0)
                return fc_vm_exit_error(vm, "during boot", e);
        return r;
}

static int put(FcVm *vm, const char *path, json_t *body, Err *e)
{
        if (!body)
                return err_set(e, ENOMEM, "PUT %s: out of memory", path);
        int r = fc_api_put(vm->api, path, body, vm->api_timeout_ms, e);
        json_decref(body);
        return r < 0 ? call_failed(vm, r, e) : 0;
}

int fc_vm_configure(FcVm *vm, const FcVmConfig *c, Err *e)
{
        for (size_t i = 0; i < ELEMENTSOF(config_steps); i++) {
                if (config_steps[i].wanted && !config_steps[i].wanted(c))
                        continue;
                int r = put(vm, config_steps[i].path, config_steps[i].body(vm, c), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fc_vm_start(FcVm *vm, Err *e)
{
        int r = put(vm, "/actions", fc_body_action("InstanceStart"), e);
        if (r >= 0)
                vm->started = true;
        return r;
}

/* ---- restart recovery ---- */

json_t *fc_vm_save(const FcVm *vm)
{
        return json_pack("{s:i, s:I, s:b}", "pid", (int)vm->proc.pid, "start_time",
                         (json_int_t)vm->start_time, "started", vm->started);
}

/* Frees a VM that was never ours to stop: no signal, its directories left alone. */
static void vm_discard(FcVm *vm)
{
        if (!vm)
                return;
        vm->stopped = true;
        free(vm->dir);
        vm->dir = NULL;
        free(vm->jail.dir); /* fc_jail_destroy() would remove it */
        vm->jail.dir = NULL;
        fc_vm_free(vm);
}

/* Where the VM's files were: a jailed VMM's are in the jail of c->id (made by nothing). */
static int adopt_paths(FcVm *vm, const FcVmConfig *c, Err *e)
{
        int r = c->jail ? fc_jail_find(c->jail, c->argv[0], c->id, &vm->jail, e) : 0;
        if (r >= 0 && c->jail && jail_sockets(vm) < 0)
                r = err_set(e, ENOMEM, "out of memory");
        if (r >= 0 && (r = fc_api_new(vm->api_sock, &vm->api)) < 0)
                err_set(e, -r, "out of memory");
        return r;
}

/* The pinned process is this VM's VMM: its command line names its id and API socket. */
static bool adopt_is_ours(const FcVm *vm)
{
        return vm->jail.chroot ? fc_jail_is_vmm_of(vm->proc.pid, vm->id)
                               : fc_launch_cmdline_has(vm->proc.pid, vm->api_sock);
}

int fc_vm_adopt(const FcVmConfig *c, const json_t *saved, FcVm **ret, Err *e)
{
        json_int_t pid = 0, start = 0;
        int started = 0;
        if (json_unpack((json_t *)saved, "{s:I, s:I, s:b}", "pid", &pid, "start_time", &start,
                        "started", &started) < 0 ||
            pid <= 1 || pid > INT_MAX || start < 0)
                return err_set(e, EBADMSG, "the VMM's saved state is malformed");
        FcVm *vm = NULL;
        int r = vm_alloc(c, &vm);
        if (r < 0)
                err_set(e, -r, "out of memory");
        else
                r = adopt_paths(vm, c, e);
        if (r >= 0 && (r = fc_launch_adopt((pid_t)pid, (uint64_t)start, &vm->proc)) >= 0 &&
            !adopt_is_ours(vm))
                r = -ESRCH; /* the saved pid and start time belong to another program */
        if (r == -ESRCH || r == -ENOENT)
                err_set(e, ESRCH, "the VMM (pid %lld) is gone", (long long)pid);
        if (r < 0) {
                vm_discard(vm);
                return r;
        }
        vm->start_time = (uint64_t)start;
        vm->started = started;
        vm->stopped = false;
        vm->cgroup = c->cgroup; /* removed with the VM, like a launched one's */
        *ret = vm;
        return 0;
}

void fc_vm_remove_leftovers(const FcVmConfig *c)
{
        FcJail j;
        (void)fc_jail_cgroup_remove(c->cgroup, c->id); /* first: the jail names it too */
        if (c->jail && fc_jail_find(c->jail, c->argv[0], c->id, &j, NULL) >= 0)
                fc_jail_destroy(&j); /* the jail directory with it */
}

/* "<parent>/<name>/api.sock" with a plain name -> a copy of name, else NULL. */
static char *scan_name(const char *api_sock, const char *parent)
{
        static const char tail[] = "/api.sock";
        size_t np = strlen(parent), n = strlen(api_sock), nt = strlen(tail);
        if (n <= np + 1 + nt || strncmp(api_sock, parent, np) || api_sock[np] != '/' ||
            strcmp(api_sock + n - nt, tail))
                return NULL;
        char *name = strndup(api_sock + np + 1, n - np - 1 - nt);
        if (name && (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))) {
                free(name);
                return NULL;
        }
        return name;
}

/* The API socket this process was launched with ("--api-sock X" on its command line). */
static char *scan_api_sock(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t n = 0;
        if (read_file(path, FC_VM_CMDLINE_MAX, &cmd, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
                if (!strcmp(cmd + i, "--api-sock") && i + strlen(cmd + i) + 1 < n)
                        return strdup(cmd + i + strlen(cmd + i) + 1);
        return NULL;
}

static int scan_one(pid_t pid, const char *parent, int (*fn)(void *, const char *, int),
                    void *ud)
{
        _cleanup_free_ char *sock = scan_api_sock(pid);
        _cleanup_free_ char *name = sock ? scan_name(sock, parent) : NULL;
        if (!name)
                return 0;
        /* pin it, then check the pinned process is still the one that named the socket */
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        _cleanup_free_ char *again = pidfd >= 0 ? scan_api_sock(pid) : NULL;
        if (!again || strcmp(again, sock) || fd_wait_readable(pidfd, 0) != 0)
                return 0;
        return fn(ud, name, pidfd);
}

int fc_vm_scan(const char *parent_dir, int (*fn)(void *ud, const char *name, int pidfd),
               void *ud)
{
        DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                long pid = strtol(de->d_name, NULL, 10);
                if (pid > 1 && pid != getpid())
                        r = scan_one((pid_t)pid, parent_dir, fn, ud);
        }
        closedir(d);
        return r;
}

/* ---- state ---- */

const char *fc_vm_vsock_path(const FcVm *vm) { return vm->vsock; }
int fc_vm_pidfd(const FcVm *vm) { return vm->proc.pidfd; }
bool fc_vm_exited(const FcVm *vm) { return fc_launch_exited(&vm->proc); }
bool fc_vm_wait_exit(const FcVm *vm, int timeout_ms)
{
        return fc_launch_wait_exit(&vm->proc, now_ms() + MAX(timeout_ms, 0)) > 0;
}

int fc_vm_exit_error(FcVm *vm, const char *when, Err *e)
{
        pthread_mutex_lock(&vm->lock);
        int r = fc_launch_exit_error(&vm->proc, vm->console, when, e);
        pthread_mutex_unlock(&vm->lock);
        return r;
}

void fc_vm_console_tail(const FcVm *vm, char *out, size_t out_size)
{
        fc_launch_console_tail(vm->console, out, out_size);
}

/* ---- teardown ---- */

void fc_vm_kill(FcVm *vm)
{
        if (vm)
                fc_launch_kill(&vm->proc);
}

void fc_vm_request_stop(FcVm *vm)
{
        if (!vm || vm->grace_deadline_ms || vm->stopped)
                return;
        vm->grace_deadline_ms = now_ms() + FC_VM_STOP_GRACE_MS;
        /* a guest booted with reboot=k resets on Ctrl+Alt+Del and Firecracker exits 0;
         * poweroff would leave the process alive (FACTS §3), hence the SIGKILL after a grace */
        if (!vm->started || fc_vm_exited(vm))
                return;
        json_t *b = fc_body_action("SendCtrlAltDel");
        if (b)
                (void)fc_api_put(vm->api, "/actions", b, FC_VM_STOP_GRACE_MS, NULL);
        json_decref(b);
}

void fc_vm_stop(FcVm *vm)
{
        if (!vm)
                return;
        fc_vm_request_stop(vm);
        pthread_mutex_lock(&vm->lock);
        bool stopped = vm->stopped;
        vm->stopped = true;
        pthread_mutex_unlock(&vm->lock);
        if (!stopped) {
                if (vm->started)
                        (void)fc_launch_wait_exit(&vm->proc, vm->grace_deadline_ms);
                fc_launch_kill(&vm->proc);
                pthread_mutex_lock(&vm->lock);
                (void)fc_launch_reap(&vm->proc);
                pthread_mutex_unlock(&vm->lock);
        }
        pthread_mutex_lock(&vm->lock);
        bool clean = !vm->cleaned;
        vm->cleaned = true;
        pthread_mutex_unlock(&vm->lock);
        /* the VM's directory goes last: restart recovery finds what remains of a VM whose
         * teardown a kill cut short through it (cgroup, then jail, then directory) */
        if (clean) { /* the jailer cleans up nothing (FACTS §5) */
                (void)fc_jail_cgroup_remove(vm->cgroup, vm->id);
                fc_jail_destroy(&vm->jail);
        }
        if (vm->dir) {
                unlink_sockets(vm);
                (void)rm_rf(vm->dir);
        }
}

void fc_vm_free(FcVm *vm)
{
        if (!vm)
                return;
        fc_vm_stop(vm);
        fc_api_free(vm->api);
        fc_launch_close(&vm->proc);
        free(vm->dir);
        free(vm->api_sock);
        free(vm->vsock);
        free(vm->console);
        free(vm->log);
        free(vm->in_kernel);
        free(vm->in_initrd);
        free(vm->in_rootfs);
        free(vm->id);
        pthread_mutex_destroy(&vm->lock);
        free(vm);
}
