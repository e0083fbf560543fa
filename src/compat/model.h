/* model.h — the microVM configuration as Firecracker's API builds it: one table per request
 * body (field, type, required, range), the decoded bodies, and what each pre-boot PUT does
 * (Firecracker opens the kernel, initrd and drive files and binds the vsock socket at PUT time,
 * so this does too). Knows nothing of HTTP, of engines or of the event loop; never logs, never
 * unlinks a socket it did not replace. Faults are Firecracker's fault_message texts. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../shared/err.h"
#include "compat-limits.h"
#include "fields.h"

#define COMPAT_FIRECRACKER_VERSION "1.16.1"

/* ---- request bodies: one struct per Firecracker config struct, field order = table order */

typedef struct TokenBucketBody {
        uint32_t present;
        uint64_t size, one_time_burst, refill_time;
} TokenBucketBody;
enum { TB_SIZE, TB_ONE_TIME_BURST, TB_REFILL_TIME };

typedef struct RateLimiterBody {
        uint32_t present;
        TokenBucketBody bandwidth, ops;
} RateLimiterBody;
enum { RL_BANDWIDTH, RL_OPS };

typedef struct MachineConfigBody {
        uint32_t present;
        uint64_t vcpu_count, mem_size_mib;
        bool smt;
        int cpu_template;
        bool track_dirty_pages;
        int huge_pages;
} MachineConfigBody;
enum { MC_VCPU_COUNT, MC_MEM_SIZE_MIB, MC_SMT, MC_CPU_TEMPLATE, MC_TRACK_DIRTY_PAGES, MC_HUGE_PAGES };
enum { HUGE_PAGES_NONE, HUGE_PAGES_2M };

typedef struct BootSourceBody {
        uint32_t present;
        char *kernel_image_path, *initrd_path, *boot_args;
} BootSourceBody;
enum { BS_KERNEL_IMAGE_PATH, BS_INITRD_PATH, BS_BOOT_ARGS };

typedef struct DriveBody {
        uint32_t present;
        char *drive_id, *partuuid;
        bool is_root_device;
        int cache_type;
        bool is_read_only;
        char *path_on_host;
        RateLimiterBody rate_limiter;
        int io_engine;
        char *socket;
} DriveBody;
enum {
        DRV_DRIVE_ID, DRV_PARTUUID, DRV_IS_ROOT_DEVICE, DRV_CACHE_TYPE, DRV_IS_READ_ONLY,
        DRV_PATH_ON_HOST, DRV_RATE_LIMITER, DRV_IO_ENGINE, DRV_SOCKET,
};

typedef struct VsockBody {
        uint32_t present;
        char *vsock_id;
        uint64_t guest_cid;
        char *uds_path;
} VsockBody;
enum { VS_VSOCK_ID, VS_GUEST_CID, VS_UDS_PATH };

typedef struct LoggerBody {
        uint32_t present;
        char *log_path;
        int level;
        bool show_level, show_log_origin;
        char *module;
} LoggerBody;
enum { LG_LOG_PATH, LG_LEVEL, LG_SHOW_LEVEL, LG_SHOW_LOG_ORIGIN, LG_MODULE };
enum { LEVEL_OFF, LEVEL_TRACE, LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_WARNING, LEVEL_ERROR };

typedef struct MetricsBody {
        uint32_t present;
        char *metrics_path;
} MetricsBody;
enum { MT_METRICS_PATH };

typedef struct EntropyBody {
        uint32_t present;
        RateLimiterBody rate_limiter;
} EntropyBody;
enum { EN_RATE_LIMITER };

typedef struct SerialBody {
        uint32_t present;
        char *serial_out_path;
        TokenBucketBody rate_limiter;
} SerialBody;
enum { SR_SERIAL_OUT_PATH, SR_RATE_LIMITER };

typedef struct ActionBody {
        uint32_t present;
        int action_type;
} ActionBody;
enum { AC_ACTION_TYPE };
enum { ACTION_FLUSH_METRICS, ACTION_INSTANCE_START, ACTION_SEND_CTRL_ALT_DEL };

extern const Schema model_machine_config_schema;        /* PUT: MachineConfig */
extern const Schema model_machine_config_update_schema; /* PATCH: MachineConfigUpdate */
extern const Schema model_boot_source_schema;
extern const Schema model_drive_schema;
extern const Schema model_vsock_schema;
extern const Schema model_logger_schema;
extern const Schema model_metrics_schema;
extern const Schema model_entropy_schema;
extern const Schema model_serial_schema;
extern const Schema model_action_schema;

/* ---- the configuration being built */

typedef struct ModelDrive {
        DriveBody cfg;
        int fd; /* the backing file, opened read-only or read-write at PUT time */
} ModelDrive;

typedef struct Model {
        char id[COMPAT_ID_MAX + 1];
        bool started;
        MachineConfigBody machine;
        BootSourceBody boot;
        bool has_boot;
        int kernel_fd, initrd_fd;
        ModelDrive drives[COMPAT_MAX_DRIVES]; /* the root device, if any, first (= vda) */
        unsigned n_drives;
        VsockBody vsock;
        bool has_vsock;
        int vsock_fd; /* listening on vsock.uds_path since PUT /vsock */
        EntropyBody entropy;
        bool has_entropy;
        SerialBody serial;
        bool has_serial;
        int metrics_fd;
        int log_fd;    /* opened by PUT /logger; the owner of the process decides its use */
        int log_level; /* LEVEL_*, -1 = not set */
} Model;

void model_init(Model *m, const char *id);
/* Closes every fd; never unlinks the vsock socket (Firecracker does not either). */
void model_free(Model *m);

/* The apply steps of the pre-boot PUTs. Each takes ownership of *body (leaving it zeroed) on
 * success and on failure; faults are complete fault_message texts. */
int model_set_machine_config(Model *m, MachineConfigBody *body, bool patch, Err *e);
int model_set_boot_source(Model *m, BootSourceBody *body, Err *e);
int model_set_drive(Model *m, DriveBody *body, Err *e);
int model_set_vsock(Model *m, VsockBody *body, Err *e);
int model_set_logger(Model *m, LoggerBody *body, Err *e);
int model_set_metrics(Model *m, MetricsBody *body, Err *e);
int model_set_entropy(Model *m, EntropyBody *body, Err *e);
int model_set_serial(Model *m, SerialBody *body, Err *e);

/* GET bodies, serialized like Firecracker's serde structs. NULL on allocation failure. */
json_t *model_render_instance_info(const Model *m);
json_t *model_render_machine_config(const Model *m);
json_t *model_render_vm_config(const Model *m);

/* LEVEL_* of a logger level name (case-insensitive, "Warning" too); -1 when unknown. */
int model_parse_level(const char *s);
/* The kernel command line in use: boot_args, or Firecracker's default when none was given. */
const char *model_cmdline(const Model *m);
/* The value of key=VALUE in the boot args (last one wins, as in the kernel); NULL = absent.
 * Copies at most out_size-1 bytes. */
const char *model_boot_arg(const Model *m, const char *key, char *out, size_t out_size);
/* "No such file or directory (os error 2)", Rust's io::Error display. */
const char *model_os_error(int errnum, char *buf, size_t size);
