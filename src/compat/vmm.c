/* vmm.c — see vmm.h. The loop polls: the API listener and libmicrohttpd, the vsock muxer,
 * and the engine's exit fd. Nothing blocks in it except InstanceStart (bounded by the
 * engine's start deadline), as Firecracker's VMM thread blocks on it too. */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/util.h"
#include "api.h"
#include "muxer.h"
#include "router.h"

#define VMM_POLLFDS (API_POLLFDS + MUXER_MAX_POLLFDS + 1)

int vmm_init(Vmm *vm, const char *id, const EngineOps *ops, const EngineConfig *cfg, Err *e)
{
        *vm = (Vmm){.ops = ops};
        model_init(&vm->model, id);
        return ops->create(cfg, &vm->engine, e);
}

void vmm_free(Vmm *vm)
{
        if (vm->engine)
                vm->ops->destroy(vm->engine);
        vm->engine = NULL;
        muxer_free(vm->mux);
        vm->mux = NULL;
        api_free(vm->api);
        vm->api = NULL;
        model_free(&vm->model);
}

/* ---- actions ---- */

static int open_port(void *ctx, uint32_t port, int *ret_fd)
{
        Vmm *vm = ctx;
        return vm->ops->open_port(vm->engine, port, ret_fd);
}

/* Before the guest starts: an engine with its own muxer takes the listener. */
static int vsock_before_start(Vmm *vm, Err *e)
{
        if (!vm->model.has_vsock || !vm->ops->attach_vsock)
                return 0;
        int fd = fcntl(vm->model.vsock_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return err_set(e, errno, "vsock: %s", strerror(errno));
        muxer_free(vm->mux);
        vm->mux = NULL;
        return vm->ops->attach_vsock(vm->engine, fd, e);
}

static int open_console(const Model *m, int *ret_fd, Err *e)
{
        char oe[256];
        *ret_fd = -1;
        if (!m->has_serial || !fields_has(&model_serial_schema, &m->serial, SR_SERIAL_OUT_PATH))
                return 0;
        /* a pre-created file or FIFO (Firecracker's serial_out_path); O_RDWR never blocks on
         * a FIFO without a reader */
        int fd = open(m->serial.serial_out_path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
                return err_set(e, errno, "Start microvm error: Cannot open the serial output "
                               "file: %s", model_os_error(errno, oe, sizeof(oe)));
        *ret_fd = fd;
        return 0;
}

int vmm_instance_start(Vmm *vm, Err *e)
{
        Model *m = &vm->model;
        _cleanup_close_ int serial = -1;
        if (!m->has_boot)
                return err_set(e, EINVAL, "Start microvm error: Cannot start microvm without "
                               "kernel configuration.");
        int r = open_console(m, &serial, e);
        if (r >= 0)
                r = vsock_before_start(vm, e);
        if (r < 0)
                return r;
        r = vm->ops->start(vm->engine, m, serial >= 0 ? serial : STDOUT_FILENO, e);
        if (r < 0)
                return err_prefix(e, "Start microvm error: Internal error while starting microVM");
        if (vm->mux)
                muxer_set_opener(vm->mux, open_port, vm);
        m->started = true;
        log_info("InstanceStart: guest running (engine %s)", vm->ops->name);
        return 0;
}

int vmm_send_ctrl_alt_del(Vmm *vm, Err *e)
{
        int r = vm->ops->ctrl_alt_del(vm->engine, e);
        if (r >= 0)
                log_info("SendCtrlAltDel: delivered to the guest");
        return r;
}

/* One JSON line per flush, like Firecracker's metrics file; a full FIFO drops it. */
int vmm_flush_metrics(Vmm *vm, Err *e)
{
        if (vm->model.metrics_fd < 0)
                return 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char line[512];
        int n = snprintf(line, sizeof(line),
                         "{\"utc_timestamp_ms\":%lld,\"ember_vmm\":{\"api_requests\":%llu,"
                         "\"vsock_connections\":%llu,\"vsock_active\":%u}}\n",
                         (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                         (unsigned long long)vm->api_requests,
                         (unsigned long long)(vm->mux ? muxer_total(vm->mux) : 0),
                         vm->mux ? muxer_count(vm->mux) : 0);
        ssize_t _unused_ w = write(vm->model.metrics_fd, line, (size_t)n);
        return 0;
}

void vmm_logger_changed(Vmm *vm)
{
        static const int to_log[] = {
                [LEVEL_OFF] = 0,          [LEVEL_TRACE] = LOG_DEBUG, [LEVEL_DEBUG] = LOG_DEBUG,
                [LEVEL_INFO] = LOG_INFO,  [LEVEL_WARN] = LOG_WARN,   [LEVEL_WARNING] = LOG_WARN,
                [LEVEL_ERROR] = LOG_ERR,
        };
        if (!vm->route_logs)
                return;
        if (vm->model.log_level >= 0)
                log_set_level(to_log[vm->model.log_level]);
        /* shared/log writes to stderr: the log file becomes stderr */
        if (vm->model.log_fd >= 0 && dup3(vm->model.log_fd, STDERR_FILENO, 0) < 0)
                log_warn("logger: cannot redirect the log: %s", strerror(errno));
}

int vmm_vsock_changed(Vmm *vm, Err *e)
{
        muxer_free(vm->mux);
        vm->mux = NULL;
        if (!vm->model.has_vsock)
                return 0;
        int r = muxer_new(vm->model.vsock_fd, &vm->mux);
        return r < 0 ? err_set(e, r, "Vsock config error: out of memory") : 0;
}

/* ---- the loop ---- */

static void api_handler(void *ctx, const char *method, const char *url, const char *body,
                        size_t len, bool has_body, Reply *r)
{
        Vmm *vm = ctx;
        vm->api_requests++;
        router_handle(vm, method, url, body, len, has_body, r);
        if (r->status >= 400)
                log_info("API %s %s: %d %s", method, url, r->status, r->body ? r->body : "");
        else
                log_debug("API %s %s: %d", method, url, r->status);
}

static void guest_ended(Vmm *vm)
{
        char how[64] = "ended";
        int r = vm->ops->reap(vm->engine, how, sizeof(how));
        vm->done = true;
        vm->exit_code = r > 0 ? r : 0;
        if (vm->exit_code)
                log_error("guest %s: ember-vmm exits %d (the VMM failed)", how, vm->exit_code);
        else
                log_info("guest %s: ember-vmm exits 0 (as Firecracker does on a guest reboot)", how);
}

static int serve_once(Vmm *vm, struct pollfd *pfds)
{
        int64_t deadline = -1;
        Muxer *mux = vm->mux;
        size_t na = api_pollfds(vm->api, pfds, API_POLLFDS, &deadline);
        size_t nm = mux ? muxer_pollfds(mux, pfds + na, MUXER_MAX_POLLFDS, &deadline) : 0;
        size_t nx = na + nm;
        pfds[nx] = (struct pollfd){.fd = vm->model.started ? vm->ops->exit_fd(vm->engine) : -1,
                                   .events = POLLIN};
        if (poll(pfds, nx + 1, deadline_left(deadline)) < 0)
                return errno == EINTR ? 0 : -errno;
        api_dispatch(vm->api, pfds, na);
        /* a PUT /vsock may have replaced the muxer: its slots are stale then */
        if (mux && mux == vm->mux)
                muxer_dispatch(mux, pfds + na, nm);
        if (pfds[nx].fd >= 0 && pfds[nx].revents)
                guest_ended(vm);
        return 0;
}

int vmm_serve(Vmm *vm, int api_fd, Err *e)
{
        int r = api_new(api_fd, api_handler, vm, &vm->api, e);
        if (r < 0)
                return r;
        _cleanup_free_ struct pollfd *pfds = calloc(VMM_POLLFDS, sizeof(*pfds));
        if (!pfds)
                return err_set(e, ENOMEM, "out of memory");
        while (!vm->done)
                if ((r = serve_once(vm, pfds)) < 0)
                        return err_set(e, r, "poll: %s", strerror(-r));
        return vm->exit_code;
}
