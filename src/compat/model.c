/* model.c — the body tables and the pre-boot PUT semantics of Firecracker v1.16.1
 * (vmm_config/ and resources.rs in src/vmm/src): what each call checks, in which order, and the
 * fault text it gives. Opens files and binds the vsock socket like Firecracker; never logs. */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../shared/cleanup.h"

/* ---- tables ---- */

#define F_STR(st, n, fl) {.name = #n, .type = FIELD_STRING, .flags = (fl), .offset = offsetof(st, n)}
#define F_BOOL(st, n, fl) {.name = #n, .type = FIELD_BOOL, .flags = (fl), .offset = offsetof(st, n)}
#define F_ENUM(st, n, fl, v)                                                                       \
        {.name = #n, .type = FIELD_ENUM, .flags = (fl), .offset = offsetof(st, n), .values = (v)}
#define F_OBJ(st, n, fl, sch)                                                                      \
        {.name = #n, .type = FIELD_OBJECT, .flags = (fl), .offset = offsetof(st, n), .sub = &(sch)}
#define F_UINT(st, n, fl, tn, tmax)                                                                \
        {.name = #n, .type = FIELD_UINT, .flags = (fl), .offset = offsetof(st, n),                 \
         .uint_name = (tn), .uint_max = (tmax)}
#define F_RANGE(st, n, fl, tn, tmax, lo, hi, fault)                                                \
        {.name = #n, .type = FIELD_UINT, .flags = (fl), .offset = offsetof(st, n),                 \
         .uint_name = (tn), .uint_max = (tmax), .min = (lo), .max = (hi), .range_fault = (fault)}
#define SCHEMA(nm, st, flds, strict_)                                                              \
        {.name = (nm), .size = sizeof(st), .fields = (flds), .n_fields = ELEMENTSOF(flds),         \
         .present_offset = offsetof(st, present), .strict = (strict_)}

#define REQ FIELD_REQUIRED
#define OPT FIELD_NULLABLE

#define FAULT_VCPUS                                                                                \
        "Machine config error: The number of vCPUs must be greater than 0, less than 32 and must " \
        "be 1 or an even number if SMT is enabled."
#define FAULT_MEM                                                                                  \
        "Machine config error: The memory size (MiB) is either 0, or not a multiple of the "      \
        "configured page size."
#define DEFAULT_KERNEL_CMDLINE                                                                     \
        "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux i8042.dumbkbd "       \
        "swiotlb=noforce"

static const char *const cpu_templates[] = {"C3", "T2", "T2S", "None", "T2CL", "T2A", NULL};
enum { CPU_TEMPLATE_NONE = 3 };
static const char *const huge_pages[] = {"None", "2M", NULL};
static const char *const cache_types[] = {"Unsafe", "Writeback", NULL};
static const char *const io_engines[] = {"Sync", "Async", NULL};
static const char *const levels[] = {"Off", "Trace", "Debug", "Info", "Warn", "Warning", "Error", NULL};
static const char *const actions[] = {"FlushMetrics", "InstanceStart", "SendCtrlAltDel", NULL};

static const Field token_bucket_fields[] = {
        [TB_SIZE] = F_UINT(TokenBucketBody, size, REQ, "u64", UINT64_MAX),
        [TB_ONE_TIME_BURST] = F_UINT(TokenBucketBody, one_time_burst, OPT, "u64", UINT64_MAX),
        [TB_REFILL_TIME] = F_UINT(TokenBucketBody, refill_time, REQ, "u64", UINT64_MAX),
};
static const Schema token_bucket_schema =
        SCHEMA("TokenBucketConfig", TokenBucketBody, token_bucket_fields, false);

static const Field rate_limiter_fields[] = {
        [RL_BANDWIDTH] = F_OBJ(RateLimiterBody, bandwidth, OPT, token_bucket_schema),
        [RL_OPS] = F_OBJ(RateLimiterBody, ops, OPT, token_bucket_schema),
};
static const Schema rate_limiter_schema =
        SCHEMA("RateLimiterConfig", RateLimiterBody, rate_limiter_fields, true);

static const Field machine_config_fields[] = {
        [MC_VCPU_COUNT] = F_RANGE(MachineConfigBody, vcpu_count, REQ, "u8", UINT8_MAX, 1,
                                  COMPAT_MAX_VCPUS, FAULT_VCPUS),
        [MC_MEM_SIZE_MIB] = F_RANGE(MachineConfigBody, mem_size_mib, REQ, "usize", UINT64_MAX, 1,
                                    UINT64_MAX, FAULT_MEM),
        [MC_SMT] = F_BOOL(MachineConfigBody, smt, 0),
        [MC_CPU_TEMPLATE] = F_ENUM(MachineConfigBody, cpu_template, OPT | FIELD_SKIP_NULL, cpu_templates),
        [MC_TRACK_DIRTY_PAGES] = F_BOOL(MachineConfigBody, track_dirty_pages, 0),
        [MC_HUGE_PAGES] = F_ENUM(MachineConfigBody, huge_pages, 0, huge_pages),
};
const Schema model_machine_config_schema =
        SCHEMA("MachineConfig", MachineConfigBody, machine_config_fields, true);

static const Field machine_config_update_fields[] = {
        [MC_VCPU_COUNT] = F_RANGE(MachineConfigBody, vcpu_count, OPT, "u8", UINT8_MAX, 1,
                                  COMPAT_MAX_VCPUS, FAULT_VCPUS),
        [MC_MEM_SIZE_MIB] = F_RANGE(MachineConfigBody, mem_size_mib, OPT, "usize", UINT64_MAX, 1,
                                    UINT64_MAX, FAULT_MEM),
        [MC_SMT] = F_BOOL(MachineConfigBody, smt, OPT),
        [MC_CPU_TEMPLATE] = F_ENUM(MachineConfigBody, cpu_template, OPT, cpu_templates),
        [MC_TRACK_DIRTY_PAGES] = F_BOOL(MachineConfigBody, track_dirty_pages, OPT),
        [MC_HUGE_PAGES] = F_ENUM(MachineConfigBody, huge_pages, OPT, huge_pages),
};
const Schema model_machine_config_update_schema =
        SCHEMA("MachineConfigUpdate", MachineConfigBody, machine_config_update_fields, true);

static const Field boot_source_fields[] = {
        [BS_KERNEL_IMAGE_PATH] = F_STR(BootSourceBody, kernel_image_path, REQ),
        [BS_INITRD_PATH] = F_STR(BootSourceBody, initrd_path, OPT),
        [BS_BOOT_ARGS] = F_STR(BootSourceBody, boot_args, OPT),
};
const Schema model_boot_source_schema =
        SCHEMA("BootSourceConfig", BootSourceBody, boot_source_fields, true);

static const Field drive_fields[] = {
        [DRV_DRIVE_ID] = F_STR(DriveBody, drive_id, REQ),
        [DRV_PARTUUID] = F_STR(DriveBody, partuuid, OPT),
        [DRV_IS_ROOT_DEVICE] = F_BOOL(DriveBody, is_root_device, REQ),
        [DRV_CACHE_TYPE] = F_ENUM(DriveBody, cache_type, 0, cache_types),
        [DRV_IS_READ_ONLY] = F_BOOL(DriveBody, is_read_only, OPT),
        [DRV_PATH_ON_HOST] = F_STR(DriveBody, path_on_host, OPT),
        [DRV_RATE_LIMITER] = F_OBJ(DriveBody, rate_limiter, OPT, rate_limiter_schema),
        [DRV_IO_ENGINE] = F_ENUM(DriveBody, io_engine, OPT, io_engines),
        [DRV_SOCKET] = F_STR(DriveBody, socket, OPT),
};
const Schema model_drive_schema = SCHEMA("BlockDeviceConfig", DriveBody, drive_fields, true);

static const Field vsock_fields[] = {
        [VS_VSOCK_ID] = F_STR(VsockBody, vsock_id, OPT | FIELD_SKIP_NULL),
        [VS_GUEST_CID] = F_UINT(VsockBody, guest_cid, REQ, "u32", UINT32_MAX),
        [VS_UDS_PATH] = F_STR(VsockBody, uds_path, REQ),
};
const Schema model_vsock_schema = SCHEMA("VsockDeviceConfig", VsockBody, vsock_fields, true);

static const Field logger_fields[] = {
        [LG_LOG_PATH] = F_STR(LoggerBody, log_path, OPT),
        [LG_LEVEL] = {.name = "level", .type = FIELD_ENUM, .flags = OPT | FIELD_ICASE,
                      .offset = offsetof(LoggerBody, level), .values = levels,
                      .enum_fault = "Invalid LevelFilter"},
        [LG_SHOW_LEVEL] = F_BOOL(LoggerBody, show_level, OPT),
        [LG_SHOW_LOG_ORIGIN] = F_BOOL(LoggerBody, show_log_origin, OPT),
        [LG_MODULE] = F_STR(LoggerBody, module, OPT),
};
const Schema model_logger_schema = SCHEMA("LoggerConfig", LoggerBody, logger_fields, true);

/* Firecracker's MetricsConfig is the one config struct without deny_unknown_fields. */
static const Field metrics_fields[] = {
        [MT_METRICS_PATH] = F_STR(MetricsBody, metrics_path, REQ),
};
const Schema model_metrics_schema = SCHEMA("MetricsConfig", MetricsBody, metrics_fields, false);

static const Field entropy_fields[] = {
        [EN_RATE_LIMITER] = F_OBJ(EntropyBody, rate_limiter, OPT, rate_limiter_schema),
};
const Schema model_entropy_schema =
        SCHEMA("EntropyDeviceConfig", EntropyBody, entropy_fields, true);

static const Field serial_fields[] = {
        [SR_SERIAL_OUT_PATH] = F_STR(SerialBody, serial_out_path, OPT),
        [SR_RATE_LIMITER] = F_OBJ(SerialBody, rate_limiter, OPT, token_bucket_schema),
};
const Schema model_serial_schema = SCHEMA("SerialConfig", SerialBody, serial_fields, true);

static const Field action_fields[] = {
        [AC_ACTION_TYPE] = F_ENUM(ActionBody, action_type, REQ, actions),
};
const Schema model_action_schema = SCHEMA("ActionBody", ActionBody, action_fields, true);

/* ---- helpers ---- */

int model_parse_level(const char *s)
{
        for (int i = 0; levels[i]; i++)
                if (!strcasecmp(s, levels[i]))
                        return i;
        return -1;
}

const char *model_os_error(int errnum, char *buf, size_t size)
{
        if (errnum < 0)
                errnum = -errnum;
        snprintf(buf, size, "%s (os error %d)", strerror(errnum), errnum);
        return buf;
}

/* Takes the body into *dst (freeing what dst held). */
static void move_body(const Schema *s, void *dst, void *src)
{
        fields_free(s, dst);
        memcpy(dst, src, s->size);
        memset(src, 0, s->size);
}

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* open_file_nonblock(): how Firecracker opens log and metrics targets (FIFOs included). */
static int open_nonblock(const char *path)
{
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CREAT | O_CLOEXEC, 0666);
        return fd < 0 ? -errno : fd;
}

void model_init(Model *m, const char *id)
{
        *m = (Model){.kernel_fd = -1, .initrd_fd = -1, .vsock_fd = -1, .metrics_fd = -1,
                     .log_fd = -1, .log_level = -1};
        snprintf(m->id, sizeof(m->id), "%s", id);
        m->machine.vcpu_count = 1;
        m->machine.mem_size_mib = 128;
        for (unsigned i = MC_VCPU_COUNT; i <= MC_HUGE_PAGES; i++)
                if (i != MC_CPU_TEMPLATE)
                        fields_set_has(&model_machine_config_schema, &m->machine, i, true);
}

void model_free(Model *m)
{
        fields_free(&model_boot_source_schema, &m->boot);
        for (unsigned i = 0; i < m->n_drives; i++) {
                fields_free(&model_drive_schema, &m->drives[i].cfg);
                close_fd(&m->drives[i].fd);
        }
        m->n_drives = 0;
        fields_free(&model_vsock_schema, &m->vsock);
        fields_free(&model_entropy_schema, &m->entropy);
        fields_free(&model_serial_schema, &m->serial);
        close_fd(&m->kernel_fd);
        close_fd(&m->initrd_fd);
        close_fd(&m->vsock_fd);
        close_fd(&m->metrics_fd);
        close_fd(&m->log_fd);
}

/* ---- PUT/PATCH /machine-config (MachineConfig::update) ---- */

int model_set_machine_config(Model *m, MachineConfigBody *body, bool patch, Err *e)
{
        const Schema *s = &model_machine_config_update_schema;
        MachineConfigBody next = m->machine;
#define TAKE(idx, member)                                                                          \
        if (!patch || fields_has(s, body, idx))                                                    \
                next.member = body->member;
        TAKE(MC_VCPU_COUNT, vcpu_count)
        TAKE(MC_MEM_SIZE_MIB, mem_size_mib)
        TAKE(MC_SMT, smt)
        TAKE(MC_TRACK_DIRTY_PAGES, track_dirty_pages)
        TAKE(MC_HUGE_PAGES, huge_pages)
#undef TAKE
        /* a PUT without cpu_template keeps the old one (MachineConfigUpdate from MachineConfig) */
        if (fields_has(s, body, MC_CPU_TEMPLATE)) {
                next.cpu_template = body->cpu_template;
                fields_set_has(s, &next, MC_CPU_TEMPLATE, body->cpu_template != CPU_TEMPLATE_NONE);
        }
        memset(body, 0, sizeof(*body));
        /* Firecracker's order: vCPU count (range, then SMT parity), then memory */
        if (next.smt && next.vcpu_count > 1 && next.vcpu_count % 2 == 1)
                return err_set(e, EINVAL, FAULT_VCPUS);
        int r = fields_check_ranges(&model_machine_config_schema, &next, e);
        if (r < 0)
                return r;
        if (next.huge_pages == HUGE_PAGES_2M && next.mem_size_mib % 2 != 0)
                return err_set(e, EINVAL, FAULT_MEM);
        m->machine = next;
        return 0;
}

/* ---- PUT /boot-source (BootConfig::new) ---- */

static int check_cmdline(const char *s, Err *e)
{
        for (const char *p = s; *p; p++)
                if (*p < ' ' || *p > '~')
                        return err_set(e, EINVAL, "Boot source error: The kernel command line is "
                                       "invalid: String contains a non-printable ASCII character.");
        /* linux-loader's capacity counts the terminating NUL */
        if (strlen(s) >= COMPAT_CMDLINE_MAX)
                return err_set(e, EINVAL, "Boot source error: The kernel command line is invalid: "
                               "Inserting string would make command line too long.");
        return 0;
}

int model_set_boot_source(Model *m, BootSourceBody *body, Err *e)
{
        const Schema *s = &model_boot_source_schema;
        char oe[256];
        _cleanup_close_ int kfd = open(body->kernel_image_path, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int ifd = -1;
        int r = 0;
        if (kfd < 0)
                r = err_set(e, errno, "Boot source error: The kernel file cannot be opened: %s",
                            model_os_error(errno, oe, sizeof(oe)));
        if (r >= 0 && fields_has(s, body, BS_INITRD_PATH) &&
            (ifd = open(body->initrd_path, O_RDONLY | O_CLOEXEC)) < 0)
                r = err_set(e, errno, "Boot source error: The initrd file cannot be opened due to "
                            "invalid path or invalid permissions. %s",
                            model_os_error(errno, oe, sizeof(oe)));
        if (r >= 0 && fields_has(s, body, BS_BOOT_ARGS))
                r = check_cmdline(body->boot_args, e);
        if (r < 0) {
                fields_free(s, body);
                return r;
        }
        move_body(s, &m->boot, body);
        close_fd(&m->kernel_fd);
        close_fd(&m->initrd_fd);
        m->kernel_fd = TAKE_FD(kfd);
        m->initrd_fd = TAKE_FD(ifd);
        m->has_boot = true;
        return 0;
}

const char *model_cmdline(const Model *m)
{
        return fields_has(&model_boot_source_schema, &m->boot, BS_BOOT_ARGS) ? m->boot.boot_args
                                                                             : DEFAULT_KERNEL_CMDLINE;
}

const char *model_boot_arg(const Model *m, const char *key, char *out, size_t out_size)
{
        const char *found = NULL;
        size_t klen = strlen(key), flen = 0;
        for (const char *p = model_cmdline(m); *p;) {
                while (*p == ' ')
                        p++;
                size_t n = strcspn(p, " ");
                if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
                        found = p + klen + 1;
                        flen = n - klen - 1;
                }
                p += n;
        }
        if (!found || out_size == 0)
                return NULL;
        snprintf(out, out_size, "%.*s", (int)MIN(flen, out_size - 1), found);
        return out;
}

/* ---- PUT /drives/{id} (BlockBuilder::insert) ---- */

/* Rate limiters read back the way Firecracker rebuilds them: a bucket with size or
 * refill_time 0 is disabled, a zero burst is absent, no bucket means no limiter. */
static void normalize_bucket(TokenBucketBody *b, RateLimiterBody *rl, unsigned idx)
{
        if (!fields_has(&rate_limiter_schema, rl, idx))
                return;
        if (b->size == 0 || b->refill_time == 0)
                fields_set_has(&rate_limiter_schema, rl, idx, false);
        if (b->one_time_burst == 0)
                fields_set_has(&token_bucket_schema, b, TB_ONE_TIME_BURST, false);
}

static void normalize_rate_limiter(RateLimiterBody *rl, void *owner, const Schema *s, unsigned idx)
{
        normalize_bucket(&rl->bandwidth, rl, RL_BANDWIDTH);
        normalize_bucket(&rl->ops, rl, RL_OPS);
        if (!fields_has(&rate_limiter_schema, rl, RL_BANDWIDTH) &&
            !fields_has(&rate_limiter_schema, rl, RL_OPS))
                fields_set_has(s, owner, idx, false);
}

static int drive_index(const Model *m, const char *id)
{
        for (unsigned i = 0; i < m->n_drives; i++)
                if (!strcmp(m->drives[i].cfg.drive_id, id))
                        return (int)i;
        return -1;
}

static int drive_open(const DriveBody *d, int *ret_fd, Err *e)
{
        const Schema *s = &model_drive_schema;
        bool path = fields_has(s, d, DRV_PATH_ON_HOST), sock = fields_has(s, d, DRV_SOCKET);
        char oe[256];
        if (sock && !path)
                return err_set(e, ENOTSUP, "Drive config error: Unable to create the virtio block "
                               "device: Vhost user backend error: vhost-user block devices are "
                               "not supported by ember-vmm");
        if (!path || sock)
                return err_set(e, EINVAL, "Drive config error: Unable to create the virtio block "
                               "device: Invalid block config.");
        int fd = open(d->path_on_host, (d->is_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
                return err_set(e, errno, "Drive config error: Unable to create the virtio block "
                               "device: Virtio backend error: Error manipulating the backing "
                               "file: %s %s", model_os_error(errno, oe, sizeof(oe)), d->path_on_host);
        *ret_fd = fd;
        return 0;
}

static int drive_check(const Model *m, const DriveBody *d, int pos, Err *e)
{
        bool has_root = m->n_drives > 0 && m->drives[0].cfg.is_root_device;
        if (d->is_root_device && has_root && pos != 0)
                return err_set(e, EINVAL, "Drive config error: A root block device already exists!");
        if (pos < 0 && m->n_drives >= COMPAT_MAX_DRIVES)
                return err_set(e, ENOSPC, "Drive config error: ember-vmm supports at most %u drives",
                               COMPAT_MAX_DRIVES);
        return 0;
}

static void drive_insert(Model *m, ModelDrive *nd, int pos)
{
        if (pos >= 0) {
                fields_free(&model_drive_schema, &m->drives[pos].cfg);
                close_fd(&m->drives[pos].fd);
                m->drives[pos] = *nd;
                if (pos != 0 && nd->cfg.is_root_device) {
                        ModelDrive t = m->drives[0];
                        m->drives[0] = m->drives[pos];
                        m->drives[pos] = t;
                }
        } else if (nd->cfg.is_root_device) {
                memmove(&m->drives[1], &m->drives[0], sizeof(m->drives[0]) * m->n_drives);
                m->drives[0] = *nd;
                m->n_drives++;
        } else {
                m->drives[m->n_drives++] = *nd;
        }
}

int model_set_drive(Model *m, DriveBody *body, Err *e)
{
        const Schema *s = &model_drive_schema;
        int pos = drive_index(m, body->drive_id);
        ModelDrive nd = {.fd = -1};
        int r = drive_check(m, body, pos, e);
        if (r >= 0)
                r = drive_open(body, &nd.fd, e);
        if (r < 0) {
                fields_free(s, body);
                return r;
        }
        move_body(s, &nd.cfg, body);
        /* read back as Firecracker reports it: is_read_only and io_engine always set */
        fields_set_has(s, &nd.cfg, DRV_IS_READ_ONLY, true);
        fields_set_has(s, &nd.cfg, DRV_IO_ENGINE, true);
        normalize_rate_limiter(&nd.cfg.rate_limiter, &nd.cfg, s, DRV_RATE_LIMITER);
        drive_insert(m, &nd, pos);
        return 0;
}

/* ---- PUT /vsock (VsockBuilder::insert, VsockMuxer::new) ---- */

static int vsock_bind(const char *path, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* no unlink first: Firecracker fails when the path exists */
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int vsock_fault(int r, Err *e)
{
        char oe[256];
        const char *why = r == -ENAMETOOLONG ? "path must be shorter than SUN_LEN"
                                             : model_os_error(r, oe, sizeof(oe));
        return err_set(e, r, "Vsock config error: Cannot create backend for vsock device: Error "
                       "binding to the host-side Unix socket: %s", why);
}

int model_set_vsock(Model *m, VsockBody *body, Err *e)
{
        const Schema *s = &model_vsock_schema;
        int fd = -1, r = 0;
        if (m->has_vsock) { /* a second PUT replaces the device, removing the old socket */
                close_fd(&m->vsock_fd);
                m->has_vsock = false;
                if (unlink(m->vsock.uds_path) < 0)
                        r = -errno;
                fields_free(s, &m->vsock);
        }
        if (r >= 0)
                r = vsock_bind(body->uds_path, &fd);
        if (r < 0) {
                fields_free(s, body);
                return vsock_fault(r, e);
        }
        move_body(s, &m->vsock, body);
        fields_set_has(s, &m->vsock, VS_VSOCK_ID, false); /* deprecated, never read back */
        m->vsock_fd = fd;
        m->has_vsock = true;
        return 0;
}

/* ---- PUT /logger, /metrics, /entropy, /serial ---- */

int model_set_logger(Model *m, LoggerBody *body, Err *e)
{
        const Schema *s = &model_logger_schema;
        char oe[256];
        int fd = -1;
        if (fields_has(s, body, LG_LOG_PATH) && (fd = open_nonblock(body->log_path)) < 0) {
                fields_free(s, body);
                return err_set(e, fd, "Logger error: Failed to open target file: %s",
                               model_os_error(fd, oe, sizeof(oe)));
        }
        if (fd >= 0) {
                close_fd(&m->log_fd);
                m->log_fd = fd;
        }
        /* every update sets the level: the given one or the default (Info) */
        m->log_level = fields_has(s, body, LG_LEVEL) ? body->level : LEVEL_INFO;
        fields_free(s, body);
        return 0;
}

int model_set_metrics(Model *m, MetricsBody *body, Err *e)
{
        char oe[256];
        int fd = open_nonblock(body->metrics_path);
        fields_free(&model_metrics_schema, body);
        if (fd < 0)
                return err_set(e, fd, "Metrics error: Cannot initialize the metrics system due to "
                               "bad user input: %s", model_os_error(fd, oe, sizeof(oe)));
        if (m->metrics_fd >= 0) {
                close(fd);
                return err_set(e, EALREADY, "Metrics error: Cannot initialize the metrics system "
                               "due to bad user input: Reinitialization of metrics not allowed.");
        }
        m->metrics_fd = fd;
        return 0;
}

int model_set_entropy(Model *m, EntropyBody *body, Err *e)
{
        const Schema *s = &model_entropy_schema;
        move_body(s, &m->entropy, body);
        normalize_rate_limiter(&m->entropy.rate_limiter, &m->entropy, s, EN_RATE_LIMITER);
        m->has_entropy = true;
        return 0;
}

int model_set_serial(Model *m, SerialBody *body, Err *e)
{
        move_body(&model_serial_schema, &m->serial, body);
        m->has_serial = true;
        return 0;
}

/* ---- GET bodies ---- */

json_t *model_render_instance_info(const Model *m)
{
        return json_pack("{s:s, s:s, s:s, s:s}", "id", m->id, "state",
                         m->started ? "Running" : "Not started", "vmm_version",
                         COMPAT_FIRECRACKER_VERSION, "app_name", "Firecracker");
}

json_t *model_render_machine_config(const Model *m)
{
        return fields_render(&model_machine_config_schema, &m->machine);
}

static json_t *render_drives(const Model *m)
{
        json_t *a = json_array();
        for (unsigned i = 0; a && i < m->n_drives; i++)
                if (json_array_append_new(a, fields_render(&model_drive_schema, &m->drives[i].cfg)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *render_if(bool on, const Schema *s, const void *obj)
{
        return on ? fields_render(s, obj) : json_null();
}

/* VmmConfig, kebab-case keys in Firecracker's field order. */
json_t *model_render_vm_config(const Model *m)
{
        return json_pack("{s:n, s:o, s:o, s:n, s:n, s:o, s:n, s:n, s:[], s:o, s:o, s:[], s:n}",
                         "balloon", "drives", render_drives(m), "boot-source",
                         fields_render(&model_boot_source_schema, &m->boot), "cpu-config", "logger",
                         "machine-config", model_render_machine_config(m), "metrics", "mmds-config",
                         "network-interfaces", "vsock",
                         render_if(m->has_vsock, &model_vsock_schema, &m->vsock), "entropy",
                         render_if(m->has_entropy, &model_entropy_schema, &m->entropy), "pmem",
                         "memory-hotplug");
}
