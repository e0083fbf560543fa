/* router.h — the route table type and path matching: {method, pattern, handler} rows,
 * patterns made of literal segments and "{id}". Knows nothing of HTTP transport. */
#pragma once
#include <stddef.h>

#include "response.h"
#include "shared/err.h"

typedef struct Api Api;

#define ROUTER_PARAM_MAX 256

typedef struct Request {
        const char *method, *path;
        const char *body;
        size_t body_len;
        char id[ROUTER_PARAM_MAX]; /* the {id} segment, "" when the pattern has none */
} Request;

/* Fills resp on success; on failure returns -errno with e set, and the caller turns e
 * into the error response. */
typedef int (*RouteHandler)(Api *api, const Request *req, Response *resp, Err *e);

typedef struct Route {
        const char *method;
        const char *pattern; /* OpenAPI syntax: "/sandboxes/{id}/exec" */
        RouteHandler handler;
} Route;

typedef enum RouteResult { ROUTE_MATCH, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED } RouteResult;

/* Finds the row for (method, path). On ROUTE_MATCH *ret_route and id are set; on
 * ROUTE_METHOD_NOT_ALLOWED allow holds "GET, DELETE"-style text of the methods that exist. */
RouteResult router_match(const Route *routes, size_t n_routes, const char *method,
                         const char *path, const Route **ret_route, char id[ROUTER_PARAM_MAX],
                         char *allow, size_t allow_size);

/* The table of emberd's API (routes.c); docs/openapi.json must list exactly these. */
extern const Route api_routes[];
extern const size_t api_n_routes;
