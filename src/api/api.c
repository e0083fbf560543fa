/* api.c — the Api object: options, the list of listeners, dispatch through the route table
 * and the per-status request counters. Transport lives in server.c, handlers elsewhere. */
#include "api-internal.h"

#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "listen.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif

int api_new(Manager *m, const Settings *s, const ApiOptions *o, Api **ret, Err *e)
{
        Api *api = calloc(1, sizeof(*api));
        if (!api)
                return err_set(e, ENOMEM, "out of memory");
        api->manager = m;
        api->settings = s;
        api->max_body_bytes = o && o->max_body_bytes ? o->max_body_bytes : API_DEFAULT_MAX_BODY;
        api->max_connections =
                o && o->max_connections ? o->max_connections : API_DEFAULT_MAX_CONNECTIONS;
        api->idle_timeout_s =
                o && o->idle_timeout_s ? o->idle_timeout_s : API_DEFAULT_IDLE_TIMEOUT_S;
        api->version = o && o->version ? o->version : EMBER_VERSION;
        api->token_on_loopback = o && o->token_on_loopback;
        api->socket_mode = o && o->socket_mode ? o->socket_mode : 0660;
        api->socket_gid = (gid_t)-1;
        int r = o && o->socket_group ? listen_group(o->socket_group, &api->socket_gid) : 0;
        if (r < 0) {
                free(api);
                return err_set(e, -r, "socket group '%.64s': %s", o->socket_group,
                               r == -ENOENT ? "no such group" : strerror(-r));
        }
        if (o && o->token) {
                if (!*o->token || strlen(o->token) > API_MAX_TOKEN) {
                        free(api);
                        return err_set(e, EINVAL, "the token must be 1 to %u bytes",
                                       API_MAX_TOKEN);
                }
                api->token = strdup(o->token);
                if (!api->token) {
                        free(api);
                        return err_set(e, ENOMEM, "out of memory");
                }
        }
        *ret = api;
        return 0;
}

void api_free(Api *api)
{
        if (!api)
                return;
        for (size_t i = 0; i < api->n_listeners; i++)
                listener_free(api->listeners[i]);
        free(api->listeners);
        if (api->token)
                explicit_bzero(api->token, strlen(api->token));
        free(api->token);
        free(api);
}

void api_count_status(Api *api, unsigned status)
{
        if (status < sizeof(api->http_status) / sizeof(api->http_status[0]))
                atomic_fetch_add_explicit(&api->http_status[status], 1, memory_order_relaxed);
}

void api_dispatch(Api *api, const char *method, const char *path, const char *body,
                  size_t body_len, Response *resp)
{
        Request req = {.method = method, .path = path, .body = body, .body_len = body_len};
        const Route *route = NULL;
        char allow[sizeof(resp->allow)];
        switch (router_match(api_routes, api_n_routes, method, path, &route, req.id, allow,
                             sizeof(allow))) {
        case ROUTE_NOT_FOUND:
                response_error(resp, 404, "not_found", "no such endpoint: %.200s", path);
                return;
        case ROUTE_METHOD_NOT_ALLOWED:
                response_error(resp, 405, "method_not_allowed",
                               "method %.16s is not allowed on %.200s (allowed: %s)", method,
                               path, allow);
                memcpy(resp->allow, allow, sizeof(allow));
                return;
        case ROUTE_MATCH:
                break;
        }
        Err e = {0};
        int r = route->handler(api, &req, resp, &e);
        if (r < 0) {
                if (!e.errnum)
                        err_set(&e, r, "%s", strerror(-r));
                response_from_err(resp, &e);
        }
}
