/* router.c — matching a path against route patterns segment by segment. A "{...}"
 * segment matches one non-empty segment of at most ROUTER_PARAM_MAX-1 bytes; no regexes,
 * no prefix matches, no trailing-slash leniency (the API has exactly one spelling). */
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Does path match pattern? Copies the parameter segment into id when there is one. */
static bool pattern_match(const char *pattern, const char *path, char id[ROUTER_PARAM_MAX])
{
        const char *p = pattern, *s = path;
        while (*p && *s) {
                if (*p != '{') {
                        if (*p++ != *s++)
                                return false;
                        continue;
                }
                const char *close = strchr(p, '}');
                const char *end = strchrnul(s, '/');
                size_t n = (size_t)(end - s);
                if (!close || n == 0 || n >= ROUTER_PARAM_MAX)
                        return false;
                memcpy(id, s, n);
                id[n] = 0;
                p = close + 1;
                s = end;
        }
        return *p == 0 && *s == 0;
}

static void allow_add(char *allow, size_t size, const char *method)
{
        size_t len = strlen(allow);
        snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

RouteResult router_match(const Route *routes, size_t n_routes, const char *method,
                         const char *path, const Route **ret_route, char id[ROUTER_PARAM_MAX],
                         char *allow, size_t allow_size)
{
        bool path_known = false;
        if (allow_size)
                allow[0] = 0;
        id[0] = 0;
        for (size_t i = 0; i < n_routes; i++) {
                char tmp[ROUTER_PARAM_MAX] = "";
                if (!pattern_match(routes[i].pattern, path, tmp))
                        continue;
                if (strcmp(routes[i].method, method) == 0) {
                        memcpy(id, tmp, sizeof(tmp));
                        *ret_route = &routes[i];
                        return ROUTE_MATCH;
                }
                path_known = true;
                if (allow_size)
                        allow_add(allow, allow_size, routes[i].method);
        }
        return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
