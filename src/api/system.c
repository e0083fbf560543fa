/* system.c — the service endpoints: GET /language-packs, /healthz and /metrics
 * (Prometheus text format 0.0.4). Read-only views of Settings and ManagerStats. */
#include <stdio.h>

#include "../sandbox/vmm-select.h"
#include "api-internal.h"
#include "handlers.h"

int handle_list_language_packs(Api *api, const Request *req, Response *resp, Err *e)
{
        const Settings *s = api->settings;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < s->n_packs; i++) {
                const Pack *p = &s->packs[i];
                if (json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "name", p->name,
                                                         "description",
                                                         p->description ? p->description : "",
                                                         "vcpus", (json_int_t)p->vcpus,
                                                         "memory_mib",
                                                         (json_int_t)p->memory_mib)) < 0) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        return response_json(resp, 200, arr ? json_pack("{s:o}", "language_packs", arr) : NULL);
}

int handle_get_healthz(Api *api, const Request *req, Response *resp, Err *e)
{
        ManagerStats st = {0};
        manager_stats(api->manager, &st);
        const char *vmm = manager_vmm_name(api->manager);
        return response_json(resp, 200,
                             json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", "ok", "version",
                                       api->version, "vmm", vmm ? vmm : "unknown", "accel",
                                       vmm_select_accel(), "sandboxes",
                                       (json_int_t)st.sandboxes));
}

typedef struct Metric {
        const char *name, *type, *help;
        size_t offset; /* into ManagerStats; the field is uint64_t unless gauge */
} Metric;

static const Metric metrics[] = {
        {"ember_sandboxes_created_total", "counter", "Sandboxes created successfully.",
         offsetof(ManagerStats, created_total)},
        {"ember_sandbox_create_failures_total", "counter", "Sandbox creations that failed.",
         offsetof(ManagerStats, create_failed_total)},
        {"ember_sandboxes_deleted_total", "counter", "Sandboxes deleted by a client.",
         offsetof(ManagerStats, deleted_total)},
        {"ember_sandboxes_expired_total", "counter", "Sandboxes deleted when their TTL ran out.",
         offsetof(ManagerStats, expired_total)},
        {"ember_execs_total", "counter", "Execs run.", offsetof(ManagerStats, execs_total)},
        {"ember_exec_failures_total", "counter", "Execs that failed before producing a result.",
         offsetof(ManagerStats, exec_failed_total)},
        {"ember_exec_timeouts_total", "counter", "Execs killed by their timeout.",
         offsetof(ManagerStats, exec_timeouts_total)},
};

static void metrics_http(Api *api, FILE *f)
{
        fputs("# HELP ember_http_requests_total HTTP requests answered, by status code.\n"
              "# TYPE ember_http_requests_total counter\n",
              f);
        for (unsigned c = 100; c < sizeof(api->http_status) / sizeof(api->http_status[0]); c++) {
                uint64_t n = atomic_load_explicit(&api->http_status[c], memory_order_relaxed);
                if (n)
                        fprintf(f, "ember_http_requests_total{code=\"%u\"} %llu\n", c,
                                (unsigned long long)n);
        }
}

int handle_get_metrics(Api *api, const Request *req, Response *resp, Err *e)
{
        ManagerStats st = {0};
        manager_stats(api->manager, &st);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return err_set(e, ENOMEM, "out of memory");
        fprintf(f,
                "# HELP ember_sandboxes Sandboxes that exist now.\n"
                "# TYPE ember_sandboxes gauge\nember_sandboxes %u\n",
                st.sandboxes);
        for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
                const Metric *m = &metrics[i];
                uint64_t v = *(const uint64_t *)((const char *)&st + m->offset);
                fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m->name, m->help, m->name,
                        m->type, m->name, (unsigned long long)v);
        }
        metrics_http(api, f);
        if (fclose(f) != 0) {
                free(text);
                return err_set(e, ENOMEM, "out of memory");
        }
        response_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        return 0;
}
