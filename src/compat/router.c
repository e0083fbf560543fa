/* router.c — see router.h. The order of checks is Firecracker's: path id, body
 * deserialization, id match, parse-stage checks, then (in the VMM) the boot phase and the
 * operation itself. Every text here is copied from parsed_request.rs / rpc_interface.rs. */
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/cleanup.h"
#include "handlers.h"
#include "model.h"
#include "vmm.h"

enum { ROUTE_DEPRECATION = 1u << 8 }; /* deprecated_field given -> "Deprecation: true" */

typedef struct Route {
        const char *method;
        const char *path; /* first path segment */
        const char *sub;  /* required second segment, NULL = any */
        bool body;        /* rows match requests with (PUT/PATCH) or without (GET) a body */
        const Schema *schema;
        unsigned flags;
        unsigned id_field;         /* ROUTE_PATH_ID + schema: the body field equal to the path id */
        unsigned deprecated_field; /* ROUTE_DEPRECATION */
        int (*check)(const void *body, Err *e);
        HandlerFn handle;
        const char *post_boot_fault;
} Route;

static const Route routes[] = {
        {"GET", "", .handle = handle_get_instance_info},
        {"GET", "version", .handle = handle_get_version},
        {"GET", "vm", "config", .handle = handle_get_vm_config},
        {"GET", "machine-config", .handle = handle_get_machine_config},
        {"PUT", "actions", .body = true, .schema = &model_action_schema,
         .handle = handle_put_actions},
        {"PUT", "boot-source", .body = true, .schema = &model_boot_source_schema,
         .flags = ROUTE_PRE_BOOT, .handle = handle_put_boot_source},
        /* after boot a PUT /drives is a PCI hotplug, which needs --enable-pci */
        {"PUT", "drives", .body = true, .schema = &model_drive_schema,
         .flags = ROUTE_PRE_BOOT | ROUTE_PATH_ID, .id_field = DRV_DRIVE_ID,
         .handle = handle_put_drive, .post_boot_fault = "PCI is not enabled"},
        {"PUT", "logger", .body = true, .schema = &model_logger_schema, .flags = ROUTE_PRE_BOOT,
         .handle = handle_put_logger},
        {"PUT", "serial", .body = true, .schema = &model_serial_schema, .flags = ROUTE_PRE_BOOT,
         .handle = handle_put_serial},
        {"PUT", "machine-config", .body = true, .schema = &model_machine_config_schema,
         .flags = ROUTE_PRE_BOOT | ROUTE_DEPRECATION, .deprecated_field = MC_CPU_TEMPLATE,
         .handle = handle_put_machine_config},
        {"PUT", "metrics", .body = true, .schema = &model_metrics_schema, .flags = ROUTE_PRE_BOOT,
         .handle = handle_put_metrics},
        {"PUT", "vsock", .body = true, .schema = &model_vsock_schema,
         .flags = ROUTE_PRE_BOOT | ROUTE_DEPRECATION, .deprecated_field = VS_VSOCK_ID,
         .handle = handle_put_vsock},
        {"PUT", "entropy", .body = true, .schema = &model_entropy_schema, .flags = ROUTE_PRE_BOOT,
         .handle = handle_put_entropy},
        /* hot-unplug: after boot only, and it needs --enable-pci */
        {"DELETE", "drives", .flags = ROUTE_POST_BOOT | ROUTE_PATH_ID, .handle = handle_delete_device},
        {"DELETE", "pmem", .flags = ROUTE_POST_BOOT | ROUTE_PATH_ID, .handle = handle_delete_device},
        {"DELETE", "network-interfaces", .flags = ROUTE_POST_BOOT | ROUTE_PATH_ID,
         .handle = handle_delete_device},
        {"PATCH", "machine-config", .body = true, .schema = &model_machine_config_update_schema,
         .flags = ROUTE_PRE_BOOT | ROUTE_DEPRECATION, .deprecated_field = MC_CPU_TEMPLATE,
         .check = handle_check_patch_not_empty, .handle = handle_patch_machine_config},
};

/* method_to_error(): what a known method gets when no row matched because of the body. */
static const struct {
        const char *method;
        bool body;
        const char *fault;
} method_faults[] = {
        {"GET", true, "GET request cannot have a body."},
        {"PUT", false, "Empty PUT request."},
        {"PATCH", false, "Empty PATCH request."},
        {"DELETE", true, "Empty Delete request."},
};

static const char *const known_methods[] = {"GET", "PUT", "PATCH", "DELETE"};

int router_check_phase(const Model *m, unsigned flags, const char *post_boot_fault, Err *e)
{
        if ((flags & ROUTE_PRE_BOOT) && m->started)
                return err_set(e, EPERM, "%s", post_boot_fault ? post_boot_fault :
                               "The requested operation is not supported after starting the microVM.");
        if ((flags & ROUTE_POST_BOOT) && !m->started)
                return err_set(e, EPERM, "The requested operation is not supported before "
                               "starting the microVM.");
        return 0;
}

bool router_route_info(size_t i, const char **method, const char **path, const char **sub,
                       const Schema **schema, unsigned *flags)
{
        if (i >= ELEMENTSOF(routes))
                return false;
        *method = routes[i].method;
        *path = routes[i].path;
        *sub = routes[i].sub;
        *schema = routes[i].schema;
        *flags = routes[i].flags;
        return true;
}

/* ---- dispatch ---- */

/* Rust: uri.trim_start_matches('/').split_terminator('/'): a trailing '/' adds no token. */
static void split_path(char *buf, const char **seg0, const char **seg1)
{
        char *s = buf;
        while (*s == '/')
                s++;
        *seg0 = s;
        *seg1 = NULL;
        char *slash = strchr(s, '/');
        if (!slash)
                return;
        *slash = 0;
        if (slash[1] == 0)
                return;
        *seg1 = slash + 1;
        char *next = strchr(slash + 1, '/');
        if (next)
                *next = 0;
}

static const Route *find_route(const char *method, const char *seg0, const char *seg1, bool body)
{
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                const Route *rt = &routes[i];
                if (strcmp(rt->method, method) || strcmp(rt->path, seg0) || rt->body != body)
                        continue;
                if (rt->sub && (!seg1 || strcmp(rt->sub, seg1)))
                        continue;
                return rt;
        }
        return NULL;
}

static void no_route(const char *method, const char *seg0, bool body, Reply *r)
{
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(known_methods); i++)
                known |= !strcmp(method, known_methods[i]);
        if (!known) {
                reply_http_error(r, "Invalid HTTP Method: Unsupported HTTP method.");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(method_faults); i++)
                if (!strcmp(method, method_faults[i].method) && body == method_faults[i].body) {
                        reply_fault(r, method_faults[i].fault);
                        return;
                }
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof(msg), "Invalid request method and/or path: %s %.900s.", method, seg0);
        reply_fault(r, msg);
}

/* checked_id(): non-empty, alphanumeric or '_'. */
static int check_id(const char *id, Err *e)
{
        if (!id || !*id)
                return err_set(e, EINVAL, "The ID cannot be empty.");
        for (const char *p = id; *p; p++)
                if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z')))
                        return err_set(e, EINVAL, "API Resource IDs can only contain "
                                       "alphanumeric characters and underscores.");
        return 0;
}

static int decode(const Route *rt, const char *body, size_t len, void **ret, Err *e)
{
        void *obj = calloc(1, rt->schema->size);
        if (!obj)
                return err_set(e, ENOMEM, "out of memory");
        int r = fields_decode_body(rt->schema, body, len, obj, e);
        if (r < 0) {
                char inner[ERR_MSG_MAX];
                free(obj);
                snprintf(inner, sizeof(inner), "%s", e->msg);
                return err_set(e, r, "An error occurred when deserializing the json body of a "
                               "request: %.900s.", inner);
        }
        *ret = obj;
        return 0;
}

static int match_id(const Route *rt, const void *obj, const char *id, Err *e)
{
        const Field *f = &rt->schema->fields[rt->id_field];
        const char *body_id = *(char *const *)((const char *)obj + f->offset);
        if (!body_id || strcmp(body_id, id) != 0)
                return err_set(e, EINVAL, "The id from the path does not match the id from the body!");
        return 0;
}

static void run_route(Vmm *vm, const Route *rt, const char *id, const char *body, size_t len,
                      Reply *r)
{
        Err e = {0};
        void *obj = NULL;
        int ret = 0;
        if (rt->flags & ROUTE_PATH_ID)
                ret = check_id(id, &e);
        if (ret >= 0 && rt->schema)
                ret = decode(rt, body, len, &obj, &e);
        if (ret >= 0 && (rt->flags & ROUTE_PATH_ID) && rt->schema)
                ret = match_id(rt, obj, id, &e);
        if (ret >= 0 && rt->check)
                ret = rt->check(obj, &e);
        if (ret >= 0 && (rt->flags & ROUTE_DEPRECATION))
                r->deprecation = fields_has(rt->schema, obj, rt->deprecated_field);
        if (ret >= 0)
                ret = router_check_phase(&vm->model, rt->flags, rt->post_boot_fault, &e);
        if (ret >= 0)
                ret = rt->handle(vm, id, obj, r, &e);
        if (ret < 0)
                reply_fault(r, e.msg);
        if (obj)
                fields_free(rt->schema, obj);
        free(obj);
}

void router_handle(Vmm *vm, const char *method, const char *url, const char *body, size_t len,
                   bool has_body, Reply *r)
{
        *r = (Reply){0};
        _cleanup_free_ char *buf = strdup(url ? url : "");
        if (!buf) {
                r->status = 500;
                return;
        }
        const char *seg0, *seg1;
        split_path(buf, &seg0, &seg1);
        const Route *rt = find_route(method, seg0, seg1, has_body);
        if (rt)
                run_route(vm, rt, seg1, body, len, r);
        else
                no_route(method, seg0, has_body, r);
        if (r->status == 0)
                r->status = 204;
}
