/* test-fc-body.c — every Firecracker body builder gives exactly the expected JSON
 * (key order included, since json_dumps keeps insertion order). */
#include "../test.h"
#include "vmm/fc-body.h"

static void check_body(json_t *j, const char *expected)
{
        CHECK(j != NULL);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        CHECK_STR(s, expected);
        free(s);
        json_decref(j);
}

TEST_MAIN({
        check_body(fc_body_logger("/run/sb/vmm.log", "Info"),
                   "{\"log_path\":\"/run/sb/vmm.log\",\"level\":\"Info\"}");
        check_body(fc_body_machine_config(2, 512), "{\"vcpu_count\":2,\"mem_size_mib\":512}");
        check_body(fc_body_boot_source("/img/vmlinux", "/img/initrd", "console=ttyS0 reboot=k"),
                   "{\"kernel_image_path\":\"/img/vmlinux\",\"initrd_path\":\"/img/initrd\","
                   "\"boot_args\":\"console=ttyS0 reboot=k\"}");
        check_body(fc_body_boot_source("/img/vmlinux", NULL, NULL),
                   "{\"kernel_image_path\":\"/img/vmlinux\"}");
        check_body(fc_body_boot_source("/img/vmlinux", NULL, "panic=1"),
                   "{\"kernel_image_path\":\"/img/vmlinux\",\"boot_args\":\"panic=1\"}");
        check_body(fc_body_drive("rootfs", "/img/python.squashfs"),
                   "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/img/python.squashfs\","
                   "\"is_root_device\":false,\"is_read_only\":true}");
        check_body(fc_body_vsock(FC_GUEST_CID, "/run/sb/vsock.sock"),
                   "{\"guest_cid\":3,\"uds_path\":\"/run/sb/vsock.sock\"}");
        check_body(fc_body_entropy(), "{}");
        check_body(fc_body_action("InstanceStart"), "{\"action_type\":\"InstanceStart\"}");
        check_body(fc_body_action("SendCtrlAltDel"), "{\"action_type\":\"SendCtrlAltDel\"}");
        /* strings are escaped, never spliced */
        check_body(fc_body_boot_source("/a\"b", NULL, "x\\y"),
                   "{\"kernel_image_path\":\"/a\\\"b\",\"boot_args\":\"x\\\\y\"}");
})
