/* routes.c — THE route table of emberd's public API (DESIGN.md §3.1). A new endpoint is
 * a row here, a handler, and its entry in docs/openapi.json (a unit test compares them). */
#include "handlers.h"

const Route api_routes[] = {
        {"POST", "/sandboxes", handle_create_sandbox},
        {"GET", "/sandboxes", handle_list_sandboxes},
        {"GET", "/sandboxes/{id}", handle_get_sandbox},
        {"DELETE", "/sandboxes/{id}", handle_delete_sandbox},
        {"POST", "/sandboxes/{id}/exec", handle_exec_sandbox},
        {"GET", "/language-packs", handle_list_language_packs},
        {"GET", "/healthz", handle_get_healthz},
        {"GET", "/metrics", handle_get_metrics},
};

const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);
