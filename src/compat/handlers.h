/* handlers.h — one function per Firecracker endpoint ember-vmm serves. A handler gets the
 * decoded body (already checked for type, path id and boot phase by the router), applies it to
 * the model or the VMM and sets the reply; returning -errno with e set makes a 400 fault.
 * Handlers never parse HTTP and never check phases the router already checked. */
#pragma once
#include "router.h"

typedef int (*HandlerFn)(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);

int handle_get_instance_info(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_get_version(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_get_vm_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_get_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_patch_machine_config(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_boot_source(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_drive(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_vsock(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_logger(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_metrics(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_entropy(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_serial(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_delete_device(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);
int handle_put_actions(Vmm *vm, const char *path_id, void *body, Reply *r, Err *e);

/* Parse-stage check of PATCH /machine-config: an update with no field is "Empty PATCH request." */
int handle_check_patch_not_empty(const void *body, Err *e);
