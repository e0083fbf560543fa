/* fc-body.c — builders for the Firecracker request bodies (see fc-body.h).
 * Only documented fields, exact types; nothing here talks to a VMM or reads config. */
#include "fc-body.h"

json_t *fc_body_logger(const char *log_path, const char *level)
{
        return json_pack("{s:s, s:s}", "log_path", log_path, "level", level);
}

json_t *fc_body_machine_config(unsigned vcpu_count, unsigned mem_size_mib)
{
        return json_pack("{s:I, s:I}", "vcpu_count", (json_int_t)vcpu_count, "mem_size_mib",
                         (json_int_t)mem_size_mib);
}

json_t *fc_body_boot_source(const char *kernel_image_path, const char *initrd_path,
                            const char *boot_args)
{
        /* "s*" omits the pair when the value is NULL (jansson >= 2.11) */
        return json_pack("{s:s, s:s*, s:s*}", "kernel_image_path", kernel_image_path,
                         "initrd_path", initrd_path, "boot_args", boot_args);
}

json_t *fc_body_drive(const char *drive_id, const char *path_on_host)
{
        return json_pack("{s:s, s:s, s:b, s:b}", "drive_id", drive_id, "path_on_host",
                         path_on_host, "is_root_device", 0, "is_read_only", 1);
}

json_t *fc_body_vsock(unsigned guest_cid, const char *uds_path)
{
        return json_pack("{s:I, s:s}", "guest_cid", (json_int_t)guest_cid, "uds_path", uds_path);
}

json_t *fc_body_entropy(void) { return json_object(); }

json_t *fc_body_action(const char *action_type)
{
        return json_pack("{s:s}", "action_type", action_type);
}
