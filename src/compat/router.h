/* router.h — Firecracker's request dispatch (api_server/parsed_request.rs) as a table: which
 * method + path reaches which handler, the path-id and body checks, the pre/post-boot rule,
 * and the exact fault texts of everything that matches no row. Pure request -> reply: no
 * sockets, no HTTP framing (api.c), no VM logic (handlers.c, model.c). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../shared/err.h"
#include "fields.h"
#include "reply.h"

typedef struct Vmm Vmm;
typedef struct Model Model;

enum {
        ROUTE_PRE_BOOT = 1u << 0,  /* only before InstanceStart */
        ROUTE_POST_BOOT = 1u << 1, /* only after InstanceStart */
        ROUTE_PATH_ID = 1u << 2,   /* /path/{id}: the id is checked before the body */
};

void router_handle(Vmm *vm, const char *method, const char *url, const char *body, size_t len,
                   bool has_body, Reply *ret);

/* Row i of the route table (false past the end), for the spec check in tests. */
bool router_route_info(size_t i, const char **method, const char **path, const char **sub,
                       const Schema **schema, unsigned *flags);

/* The pre/post-boot rule of rpc_interface.rs; post_boot_fault overrides the default text. */
int router_check_phase(const Model *m, unsigned flags, const char *post_boot_fault, Err *e);
