/* fc-body.h — JSON bodies for the Firecracker API calls emberd makes (v1.16.1).
 * Pure builders: each returns a new jansson object holding only fields documented in
 * docs/firecracker/firecracker-swagger.yaml (Firecracker rejects unknown fields with 400).
 * No I/O here; NULL means out of memory. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#define FC_GUEST_CID 3 /* CIDs 0-2 are reserved; every VM may use 3 (FACTS §2.3) */

json_t *fc_body_logger(const char *log_path, const char *level);
json_t *fc_body_machine_config(unsigned vcpu_count, unsigned mem_size_mib);
/* initrd_path and boot_args may be NULL (omitted). */
json_t *fc_body_boot_source(const char *kernel_image_path, const char *initrd_path,
                            const char *boot_args);
/* A read-only, non-root virtio-block drive: the guest mounts it itself (ember.root=). */
json_t *fc_body_drive(const char *drive_id, const char *path_on_host);
json_t *fc_body_vsock(unsigned guest_cid, const char *uds_path);
json_t *fc_body_entropy(void);
/* "InstanceStart", "SendCtrlAltDel", "FlushMetrics" */
json_t *fc_body_action(const char *action_type);
