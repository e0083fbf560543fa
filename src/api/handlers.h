/* handlers.h — one function per route, named handle_<verb>_<resource>(). Each turns a
 * Request into a Response by calling the manager; none touches HTTP transport. */
#pragma once
#include "router.h"

int handle_create_sandbox(Api *api, const Request *req, Response *resp, Err *e);
int handle_list_sandboxes(Api *api, const Request *req, Response *resp, Err *e);
int handle_get_sandbox(Api *api, const Request *req, Response *resp, Err *e);
int handle_delete_sandbox(Api *api, const Request *req, Response *resp, Err *e);
int handle_exec_sandbox(Api *api, const Request *req, Response *resp, Err *e);
int handle_list_language_packs(Api *api, const Request *req, Response *resp, Err *e);
int handle_get_healthz(Api *api, const Request *req, Response *resp, Err *e);
int handle_get_metrics(Api *api, const Request *req, Response *resp, Err *e);

/* Helpers shared by the sandbox handlers (sandboxes.c). */
#include <jansson.h>

#include "sandbox/manager.h"
json_t *sandboxes_json(const SandboxInfo *si);
/* -ENOENT without a code becomes 404 "sandbox_not_found" naming id; returns r. */
int sandboxes_errno(int r, const char *id, Err *e);
