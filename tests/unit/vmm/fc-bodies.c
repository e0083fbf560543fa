/* fc-bodies.c — prints every request body emberd sends to a VMM as JSON lines
 * {"method","path","body"}, for check-fc-bodies.py to validate against the Firecracker
 * OpenAPI file. Not a test by itself. */
#include <stdio.h>

#include "vmm/fc-body.h"

static void emit(const char *method, const char *path, json_t *body)
{
        json_t *line = json_pack("{s:s, s:s, s:o}", "method", method, "path", path, "body", body);
        char *s = json_dumps(line, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(line);
}

int main(void)
{
        emit("put", "/logger", fc_body_logger("/run/sb/vmm.log", "Info"));
        emit("put", "/machine-config", fc_body_machine_config(1, 128));
        emit("put", "/machine-config", fc_body_machine_config(32, 4096));
        emit("put", "/boot-source", fc_body_boot_source("/img/vmlinux", "/img/initrd", "console=ttyS0"));
        emit("put", "/boot-source", fc_body_boot_source("/img/vmlinux", NULL, NULL));
        emit("put", "/drives/rootfs", fc_body_drive("rootfs", "/img/python.squashfs"));
        emit("put", "/vsock", fc_body_vsock(FC_GUEST_CID, "/run/sb/vsock.sock"));
        emit("put", "/entropy", fc_body_entropy());
        emit("put", "/actions", fc_body_action("InstanceStart"));
        emit("put", "/actions", fc_body_action("SendCtrlAltDel"));
        return 0;
}
