/* test-api-jsontestsuite.c — every n_* case of JSONTestSuite, sent as the body of
 * POST /sandboxes and POST /sandboxes/{id}/exec through api_dispatch(), must get a 400
 * JSON error. The cases are read from $EMBER_JSONTESTSUITE (shared test data, never
 * copied into the repo); without it the test says so and exits 77 (skipped). */
#include <dirent.h>
#include <fcntl.h>

#include "../test.h"
#include "api/api.h"
#include "fake-manager.h"
#include "shared/util.h"

static Pack packs[] = {{.name = "python", .vcpus = 1, .memory_mib = 256}};
static Settings settings = {.packs = packs, .n_packs = 1, .max_sandboxes = 8, .max_vcpus = 4,
                            .max_memory_mib = 2048};

static bool is_json_error(const Response *r)
{
        json_error_t je;
        json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, &je);
        bool ok = j && json_is_string(json_object_get(json_object_get(j, "error"), "code"));
        json_decref(j);
        return ok;
}

static unsigned run_case(Api *api, const char *exec_path, const char *dir, const char *name)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        if (read_file(path, 1 << 20, &body, &len) < 0) {
                fprintf(stderr, "  cannot read %s\n", path);
                return 1;
        }
        unsigned bad = 0;
        const char *targets[] = {"/sandboxes", exec_path};
        for (size_t t = 0; t < ELEMENTSOF(targets); t++) {
                Response r = {0};
                api_dispatch(api, "POST", targets[t], body, len, &r);
                if (r.status != 400 || !is_json_error(&r)) {
                        fprintf(stderr, "  %s on %s: status %u\n", name, targets[t], r.status);
                        bad++;
                }
                response_free(&r);
        }
        return bad;
}

static void run(void)
{
        const char *dir = getenv("EMBER_JSONTESTSUITE");
        DIR *d = dir ? opendir(dir) : NULL;
        if (!d) {
                printf("SKIP: JSONTestSuite not found (%s); set EMBER_JSONTESTSUITE\n",
                       dir ? dir : "EMBER_JSONTESTSUITE unset");
                exit(77); /* meson's "skipped" */
        } else {
                Manager *m = NULL;
                Api *api = NULL;
                Err e = {0};
                SandboxInfo si;
                CHECK_EQ_INT(manager_new(&settings, &m, &e), 0);
                CHECK_EQ_INT(api_new(m, &settings, NULL, &api, &e), 0);
                SandboxSpec spec = {.language_pack = "python"};
                CHECK_EQ_INT(manager_create(m, &spec, &si, &e), 0);
                char exec_path[128];
                snprintf(exec_path, sizeof(exec_path), "/sandboxes/%s/exec", si.id);
                unsigned n = 0, bad = 0;
                for (struct dirent *de; (de = readdir(d));) {
                        if (strncmp(de->d_name, "n_", 2) != 0)
                                continue;
                        n++;
                        bad += run_case(api, exec_path, dir, de->d_name);
                }
                closedir(d);
                printf("%u n_ cases\n", n);
                CHECK(n > 100);
                CHECK_EQ_INT(bad, 0);
                CHECK_EQ_INT(fake_last_exec.argv == NULL && fake_last_exec.code == NULL, 1);
                api_free(api);
                manager_free(m);
        }
}

TEST_MAIN(run())
