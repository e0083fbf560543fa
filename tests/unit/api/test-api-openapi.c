/* test-api-openapi.c — docs/openapi.json and the router table describe the same API:
 * the set of (method, path) pairs must be equal, and every $ref in the document must
 * resolve. The document's path comes from $EMBER_OPENAPI (set by meson). */
#include <ctype.h>

#include "../test.h"
#include "api/router.h"
#include "shared/cleanup.h"
#include <jansson.h>

static const char *http_methods[] = {"get", "put", "post", "delete", "options", "head", "patch",
                                     "trace"};

static bool route_exists(const char *method, const char *path)
{
        for (size_t i = 0; i < api_n_routes; i++)
                if (strcasecmp(api_routes[i].method, method) == 0 &&
                    strcmp(api_routes[i].pattern, path) == 0)
                        return true;
        return false;
}

static void test_doc_routes_exist(json_t *paths, size_t *ret_ops)
{
        const char *path;
        json_t *item;
        size_t ops = 0;
        json_object_foreach(paths, path, item) {
                for (size_t m = 0; m < ELEMENTSOF(http_methods); m++) {
                        json_t *op = json_object_get(item, http_methods[m]);
                        if (!op)
                                continue;
                        ops++;
                        CHECK(route_exists(http_methods[m], path));
                        if (!route_exists(http_methods[m], path))
                                fprintf(stderr, "  documented but not routed: %s %s\n",
                                        http_methods[m], path);
                        CHECK(json_is_object(json_object_get(op, "responses")));
                }
        }
        *ret_ops = ops;
}

static void test_routes_documented(json_t *paths)
{
        for (size_t i = 0; i < api_n_routes; i++) {
                char lower[16] = "";
                for (size_t k = 0; api_routes[i].method[k] && k + 1 < sizeof(lower); k++)
                        lower[k] = (char)tolower((unsigned char)api_routes[i].method[k]);
                json_t *op = json_object_get(json_object_get(paths, api_routes[i].pattern), lower);
                CHECK(op != NULL);
                if (!op)
                        fprintf(stderr, "  routed but not documented: %s %s\n",
                                api_routes[i].method, api_routes[i].pattern);
        }
}

/* "#/components/schemas/Sandbox" → the node, or NULL. */
static json_t *resolve(json_t *doc, const char *ref)
{
        if (strncmp(ref, "#/", 2) != 0)
                return NULL;
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", ref + 2);
        json_t *node = doc;
        for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok && node;
             tok = strtok_r(NULL, "/", &save))
                node = json_object_get(node, tok);
        return node;
}

static void check_refs(json_t *doc, json_t *node, unsigned *n_refs)
{
        if (json_is_object(node)) {
                const char *k;
                json_t *v;
                json_object_foreach(node, k, v) {
                        if (strcmp(k, "$ref") == 0 && json_is_string(v)) {
                                (*n_refs)++;
                                CHECK(resolve(doc, json_string_value(v)) != NULL);
                                if (!resolve(doc, json_string_value(v)))
                                        fprintf(stderr, "  dangling $ref %s\n",
                                                json_string_value(v));
                        } else {
                                check_refs(doc, v, n_refs);
                        }
                }
        } else if (json_is_array(node)) {
                size_t i;
                json_t *v;
                json_array_foreach(node, i, v) check_refs(doc, v, n_refs);
        }
}

TEST_MAIN({
        const char *path = getenv("EMBER_OPENAPI");
        if (!path)
                path = "docs/openapi.json";
        json_error_t je;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        CHECK(doc != NULL);
        if (!doc) {
                fprintf(stderr, "%s: %s (line %d)\n", path, je.text, je.line);
        } else {
                CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
                json_t *paths = json_object_get(doc, "paths");
                size_t ops = 0;
                test_doc_routes_exist(paths, &ops);
                test_routes_documented(paths);
                CHECK_EQ_INT(ops, api_n_routes); /* equal sets: both inclusions + same size */
                unsigned n_refs = 0;
                check_refs(doc, doc, &n_refs);
                CHECK(n_refs > 10);
                CHECK(resolve(doc, "#/components/schemas/Error") != NULL);
                json_decref(doc);
        }
})
