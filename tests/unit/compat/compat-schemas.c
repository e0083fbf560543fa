/* compat-schemas.c — prints ember-vmm's route table, body tables and sample GET bodies as
 * JSON, for check-compat-swagger.py to hold against Firecracker's OpenAPI file. Builds a
 * configured model in a temp dir it removes again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/model.h"
#include "compat/router.h"
#include "shared/cleanup.h"
#include "shared/util.h"

static const char *const type_names[] = {
        [FIELD_STRING] = "string", [FIELD_BOOL] = "boolean", [FIELD_UINT] = "integer",
        [FIELD_ENUM] = "enum",     [FIELD_OBJECT] = "object",
};

static json_t *field_json(const Field *f);

static json_t *schema_json(const Schema *s)
{
        json_t *fields = json_array();
        for (unsigned i = 0; i < s->n_fields; i++)
                json_array_append_new(fields, field_json(&s->fields[i]));
        return json_pack("{s:s, s:b, s:o}", "name", s->name, "strict", s->strict, "fields", fields);
}

static json_t *field_json(const Field *f)
{
        json_t *values = json_array();
        for (size_t i = 0; f->type == FIELD_ENUM && f->values[i]; i++)
                json_array_append_new(values, json_string(f->values[i]));
        return json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "name", f->name, "type",
                         type_names[f->type], "required", (f->flags & FIELD_REQUIRED) != 0,
                         "nullable", (f->flags & FIELD_NULLABLE) != 0, "icase",
                         (f->flags & FIELD_ICASE) != 0, "values", values, "sub",
                         f->type == FIELD_OBJECT ? schema_json(f->sub) : json_null());
}

static json_t *routes_json(void)
{
        json_t *a = json_array();
        const char *method, *path, *sub;
        const Schema *schema;
        unsigned flags;
        for (size_t i = 0; router_route_info(i, &method, &path, &sub, &schema, &flags); i++)
                json_array_append_new(a, json_pack("{s:s, s:s, s:s?, s:b, s:o}", "method", method,
                                                   "path", path, "sub", sub, "path_id",
                                                   (flags & ROUTE_PATH_ID) != 0, "schema",
                                                   schema ? schema_json(schema) : json_null()));
        return a;
}

/* A model configured through the real setters, as emberd would configure it. */
static int configure(Model *m, const char *dir)
{
        char path[256];
        Err e = {0};
        snprintf(path, sizeof(path), "%s/file", dir);
        if (write_file(path, "x", 1, 0644) < 0)
                return -1;
        int r = 0;
        BootSourceBody b = {.kernel_image_path = strdup(path), .boot_args = strdup("console=ttyS0")};
        fields_set_has(&model_boot_source_schema, &b, BS_KERNEL_IMAGE_PATH, true);
        fields_set_has(&model_boot_source_schema, &b, BS_BOOT_ARGS, true);
        r |= model_set_boot_source(m, &b, &e);
        DriveBody d = {.drive_id = strdup("rootfs"), .path_on_host = strdup(path),
                       .is_root_device = true, .is_read_only = true};
        for (unsigned i = DRV_DRIVE_ID; i <= DRV_PATH_ON_HOST; i++)
                fields_set_has(&model_drive_schema, &d, i, i != DRV_PARTUUID && i != DRV_CACHE_TYPE);
        r |= model_set_drive(m, &d, &e);
        snprintf(path, sizeof(path), "%s/v.sock", dir);
        VsockBody v = {.guest_cid = 3, .uds_path = strdup(path)};
        fields_set_has(&model_vsock_schema, &v, VS_GUEST_CID, true);
        fields_set_has(&model_vsock_schema, &v, VS_UDS_PATH, true);
        r |= model_set_vsock(m, &v, &e);
        EntropyBody en = {0};
        r |= model_set_entropy(m, &en, &e);
        if (r)
                fprintf(stderr, "configure: %s\n", e.msg);
        return r ? -1 : 0;
}

int main(void)
{
        char dir[] = "/tmp/ember-compat-schemas-XXXXXX";
        Model m;
        if (!mkdtemp(dir))
                return 1;
        model_init(&m, "schemas");
        int r = configure(&m, dir);
        json_t *gets = json_pack("{s:o, s:o, s:o, s:o}", "/", model_render_instance_info(&m),
                                 "/machine-config", model_render_machine_config(&m), "/vm/config",
                                 model_render_vm_config(&m), "/version",
                                 json_pack("{s:s}", "firecracker_version", COMPAT_FIRECRACKER_VERSION));
        json_t *all = json_pack("{s:o, s:o}", "routes", routes_json(), "gets", gets);
        model_free(&m);
        rm_rf(dir);
        if (r < 0 || !all)
                return 1;
        char *text = json_dumps(all, JSON_INDENT(1));
        puts(text);
        free(text);
        json_decref(all);
        return 0;
}
