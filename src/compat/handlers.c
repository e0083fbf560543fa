/* handlers.c — what each endpoint does once the router accepted the request: a model call,
 * a VMM action, or a rendered GET body. Bodies arrive decoded; a handler may take their
 * strings (the model's setters do). No HTTP, no phase checks except per action type. */
#include "handlers.h"

#include <errno.h>

#include "../shared/cleanup.h"
#include "model.h"
#include "vmm.h"

int handle_get_instance_info(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        reply_json(r, 200, model_render_instance_info(&vm->model));
        return 0;
}

int handle_get_version(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        reply_json(r, 200, json_pack("{s:s}", "firecracker_version", COMPAT_FIRECRACKER_VERSION));
        return 0;
}

int handle_get_vm_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        reply_json(r, 200, model_render_vm_config(&vm->model));
        return 0;
}

int handle_get_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        reply_json(r, 200, model_render_machine_config(&vm->model));
        return 0;
}

int handle_check_patch_not_empty(const void *body, Err *e)
{
        const MachineConfigBody *b = body;
        return b->present ? 0 : err_set(e, EINVAL, "Empty PATCH request.");
}

int handle_put_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_machine_config(&vm->model, body, false, e);
}

int handle_patch_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_machine_config(&vm->model, body, true, e);
}

int handle_put_boot_source(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_boot_source(&vm->model, body, e);
}

int handle_put_drive(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_drive(&vm->model, body, e);
}

int handle_put_vsock(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        int ret = model_set_vsock(&vm->model, body, e);
        /* the old listener is gone either way: the muxer must follow */
        int r2 = vmm_vsock_changed(vm, ret < 0 ? NULL : e);
        return ret < 0 ? ret : r2;
}

int handle_put_logger(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        int ret = model_set_logger(&vm->model, body, e);
        if (ret >= 0)
                vmm_logger_changed(vm);
        return ret;
}

int handle_put_metrics(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_metrics(&vm->model, body, e);
}

int handle_put_entropy(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_entropy(&vm->model, body, e);
}

int handle_put_serial(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return model_set_serial(&vm->model, body, e);
}

int handle_delete_device(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        return err_set(e, ENOTSUP, "PCI is not enabled"); /* no --enable-pci here */
}

/* Each action's boot phase (rpc_interface.rs) and what it runs. */
static const struct {
        unsigned phase;
        int (*run)(Vmm *vm, Err *e);
} actions[] = {
        [ACTION_FLUSH_METRICS] = {ROUTE_POST_BOOT, vmm_flush_metrics},
        [ACTION_INSTANCE_START] = {ROUTE_PRE_BOOT, vmm_instance_start},
        [ACTION_SEND_CTRL_ALT_DEL] = {ROUTE_POST_BOOT, vmm_send_ctrl_alt_del},
};

int handle_put_actions(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e)
{
        const ActionBody *a = body;
        int ret = router_check_phase(&vm->model, actions[a->action_type].phase, NULL, e);
        return ret < 0 ? ret : actions[a->action_type].run(vm, e);
}
