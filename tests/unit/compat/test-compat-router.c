/* test-compat-router.c — the Firecracker API as ember-vmm answers it, request by request,
 * through the real router, handlers and model, with a fake engine: good bodies, unknown
 * fields, missing fields, wrong types, ranges, ids, and the pre/post-boot rules of every
 * endpoint. Rows run in order (the VM's state carries over); "$D" is a fresh temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/engine.h"
#include "compat/fields.h"
#include "compat/router.h"
#include "compat/vmm.h"
#include "shared/util.h"
#include "test.h"

/* ---- a fake engine: records what the VMM asked ---- */

struct Engine {
        int starts, cads;
        bool console_was_stdout;
        unsigned drives_at_start;
};
static struct Engine *fake;

static int fake_create(const EngineConfig *cfg, Engine **ret, Err *e)
{
        fake = calloc(1, sizeof(*fake));
        *ret = fake;
        return fake ? 0 : -ENOMEM;
}
static int fake_start(Engine *en, const Model *m, int console_fd, Err *e)
{
        en->starts++;
        en->console_was_stdout = console_fd == STDOUT_FILENO;
        en->drives_at_start = m->n_drives;
        return 0;
}
static int fake_cad(Engine *en, Err *e)
{
        en->cads++;
        return 0;
}
static int fake_open_port(Engine *en, uint32_t port, int *ret_fd) { return -ECONNREFUSED; }
static int fake_exit_fd(Engine *en) { return -1; }
static int fake_reap(Engine *en, char *how, size_t n) { return 0; }
static void fake_destroy(Engine *en) { free(en); }

static const EngineOps fake_ops = {
        .name = "fake", .create = fake_create, .start = fake_start, .ctrl_alt_del = fake_cad,
        .open_port = fake_open_port, .exit_fd = fake_exit_fd, .reap = fake_reap,
        .destroy = fake_destroy,
};

/* ---- the table ---- */

typedef struct Case {
        const char *method, *path;
        const char *body; /* NULL = no body */
        int status;
        const char *expect; /* a substring of the reply body; NULL = no body expected */
        int deprecation;    /* -1 = not checked */
} Case;

#define DESER "An error occurred when deserializing the json body of a request: "
#define AFTER "The requested operation is not supported after starting the microVM."
#define BEFORE "The requested operation is not supported before starting the microVM."
#define VCPUS "The number of vCPUs must be greater than 0, less than 32"
#define MEM "The memory size (MiB) is either 0, or not a multiple"

static const Case pre_boot[] = {
        /* dispatch rules (parsed_request.rs) */
        {"GET", "/", NULL, 200, "\"state\":\"Not started\"", -1},
        {"GET", "/", NULL, 200, "\"app_name\":\"Firecracker\"", -1},
        {"GET", "/version", NULL, 200, "{\"firecracker_version\":\"1.16.1\"}", -1},
        {"GET", "/machine-config", NULL, 200,
         "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false,"
         "\"huge_pages\":\"None\"}", -1},
        {"GET", "/", "{}", 400, "GET request cannot have a body.", -1},
        {"GET", "/vm", NULL, 400, "Invalid request method and/or path: GET vm.", -1},
        {"GET", "/foo/bar", NULL, 400, "Invalid request method and/or path: GET foo.", -1},
        {"PUT", "/foo", "{}", 400, "Invalid request method and/or path: PUT foo.", -1},
        {"PUT", "/machine-config", NULL, 400, "Empty PUT request.", -1},
        {"PATCH", "/machine-config", NULL, 400, "Empty PATCH request.", -1},
        {"PATCH", "/vm", "{}", 400, "Invalid request method and/or path: PATCH vm.", -1},
        {"DELETE", "/drives/a", "{}", 400, "Empty Delete request.", -1},
        {"DELETE", "/drives/a", NULL, 400, BEFORE, -1},
        {"DELETE", "/drives", NULL, 400, "The ID cannot be empty.", -1},
        {"DELETE", "/network-interfaces/a-b", NULL, 400, "API Resource IDs can only contain", -1},
        {"DELETE", "/balloon", NULL, 400, "Invalid request method and/or path: DELETE balloon.", -1},
        {"POST", "/actions", "{}", 400, "\"error\": \"Invalid HTTP Method: Unsupported HTTP method.\n", -1},
        /* PUT /machine-config */
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", 204, NULL, 0},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"foo\": 1}", 400,
         DESER "unknown field `foo`, expected one of `vcpu_count`, `mem_size_mib`, `smt`, "
         "`cpu_template`, `track_dirty_pages`, `huge_pages`.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2}", 400, DESER "missing field `mem_size_mib`.", -1},
        {"PUT", "/machine-config", "{\"mem_size_mib\": 2}", 400, DESER "missing field `vcpu_count`.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}", 400,
         DESER "invalid type: string \\\"2\\\", expected u8.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 300, \"mem_size_mib\": 256}", 400,
         DESER "invalid value: integer `300`, expected u8.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 256}", 400,
         "invalid type: floating point", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": -1}", 400,
         DESER "invalid value: integer `-1`, expected usize.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": null, \"mem_size_mib\": 256}", 400,
         DESER "invalid type: null, expected u8.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", 400,
         "Machine config error: " VCPUS, -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 256}", 400, VCPUS, -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 3, \"mem_size_mib\": 256, \"smt\": true}", 400,
         VCPUS, -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 0}", 400,
         "Machine config error: " MEM, -1},
        {"PUT", "/machine-config",
         "{\"vcpu_count\": 2, \"mem_size_mib\": 255, \"huge_pages\": \"2M\"}", 400, MEM, -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"huge_pages\": \"1G\"}",
         400, DESER "unknown variant `1G`, expected `None` or `2M`.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": 1}", 400,
         DESER "invalid type: integer `1`, expected a boolean.", -1},
        {"PUT", "/machine-config", "[]", 400,
         DESER "invalid type: sequence, expected struct MachineConfig.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2,", 400, DESER, -1},
        {"PUT", "/machine-config",
         "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": \"T2\"}", 204, NULL, 1},
        {"GET", "/machine-config", NULL, 200, "\"smt\":false,\"cpu_template\":\"T2\",", -1},
        {"PUT", "/machine-config",
         "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": \"None\"}", 204, NULL, 1},
        {"GET", "/machine-config", NULL, 200, "\"smt\":false,\"track_dirty_pages\"", -1},
        /* PATCH /machine-config */
        {"PATCH", "/machine-config", "{}", 400, "Empty PATCH request.", -1},
        {"PATCH", "/machine-config", "{\"vcpu_count\": null}", 400, "Empty PATCH request.", -1},
        {"PATCH", "/machine-config", "{\"bogus\": 1}", 400, DESER "unknown field `bogus`", -1},
        {"PATCH", "/machine-config", "{\"mem_size_mib\": 512}", 204, NULL, 0},
        {"GET", "/machine-config", NULL, 200, "{\"vcpu_count\":2,\"mem_size_mib\":512,", -1},
        {"PATCH", "/machine-config", "{\"smt\": true, \"vcpu_count\": 3}", 400, VCPUS, -1},
        {"PATCH", "/machine-config", "{\"vcpu_count\": 0}", 400, VCPUS, -1},
        {"PATCH", "/machine-config", "{\"huge_pages\": \"2M\", \"mem_size_mib\": 3}", 400, MEM, -1},
        {"GET", "/machine-config", NULL, 200, "{\"vcpu_count\":2,\"mem_size_mib\":512,", -1},
        /* PUT /boot-source */
        {"PUT", "/boot-source", "{}", 400, DESER "missing field `kernel_image_path`.", -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/nope\"}", 400,
         "Boot source error: The kernel file cannot be opened: No such file or directory (os error 2)", -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/kernel\", \"initrd_path\": \"$D/nope\"}",
         400, "Boot source error: The initrd file cannot be opened due to invalid path or invalid "
         "permissions. No such file or directory (os error 2)", -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/kernel\", \"boot_args\": \"a\\u0001b\"}",
         400, "The kernel command line is invalid: String contains a non-printable ASCII character.", -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/kernel\", \"kernel\": 1}", 400,
         DESER "unknown field `kernel`, expected one of `kernel_image_path`, `initrd_path`, "
         "`boot_args`.", -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": 7}", 400,
         DESER "invalid type: integer `7`, expected a string.", -1},
        {"PUT", "/boot-source",
         "{\"kernel_image_path\": \"$D/kernel\", \"initrd_path\": \"$D/initrd\", "
         "\"boot_args\": \"console=ttyS0 ember.root=none\"}", 204, NULL, -1},
        /* PUT /drives/{id} */
        {"PUT", "/drives", "{}", 400, "The ID cannot be empty.", -1},
        {"PUT", "/drives/", "{}", 400, "The ID cannot be empty.", -1},
        {"PUT", "/drives//", "{}", 400, "The ID cannot be empty.", -1},
        {"PUT", "/drives/bad-id", "{}", 400,
         "API Resource IDs can only contain alphanumeric characters and underscores.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"other\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\"}", 400,
         "The id from the path does not match the id from the body!", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$D/disk.img\"}",
         400, DESER "missing field `is_root_device`.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/nope\"}", 400,
         "Drive config error: Unable to create the virtio block device: Virtio backend error: "
         "Error manipulating the backing file: No such file or directory (os error 2) ", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true}", 400,
         "Drive config error: Unable to create the virtio block device: Invalid block config.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"socket\": \"$D/vhost.sock\"}", 400, "Vhost user backend error", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\", \"cache_type\": \"Fast\"}", 400,
         DESER "unknown variant `Fast`, expected `Unsafe` or `Writeback`.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\", \"io_engine\": \"Uring\"}", 400,
         "unknown variant `Uring`, expected `Sync` or `Async`.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\", \"rate_limiter\": {\"bogus\": 1}}", 400,
         DESER "unknown field `bogus`, expected `bandwidth` or `ops`.", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\", \"rate_limiter\": {\"ops\": {\"size\": 1}}}", 400,
         DESER "missing field `refill_time`.", -1},
        {"PUT", "/drives/data", "{\"drive_id\": \"data\", \"is_root_device\": false, "
         "\"path_on_host\": \"$D/data.img\", \"rate_limiter\": {\"ops\": {\"size\": 100, "
         "\"refill_time\": 1000}}}", 204, NULL, -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\", \"is_read_only\": true}", 204, NULL, -1},
        {"PUT", "/drives/second", "{\"drive_id\": \"second\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/data.img\"}", 400,
         "Drive config error: A root block device already exists!", -1},
        /* the root device is listed first; read back like Firecracker */
        {"GET", "/vm/config", NULL, 200,
         "\"drives\":[{\"drive_id\":\"rootfs\",\"partuuid\":null,\"is_root_device\":true,"
         "\"cache_type\":\"Unsafe\",\"is_read_only\":true,\"path_on_host\":\"$D/disk.img\","
         "\"rate_limiter\":null,\"io_engine\":\"Sync\",\"socket\":null},{\"drive_id\":\"data\","
         "\"partuuid\":null,\"is_root_device\":false,\"cache_type\":\"Unsafe\","
         "\"is_read_only\":false,\"path_on_host\":\"$D/data.img\",\"rate_limiter\":{"
         "\"bandwidth\":null,\"ops\":{\"size\":100,\"one_time_burst\":null,\"refill_time\":1000}},"
         "\"io_engine\":\"Sync\",\"socket\":null}]", -1},
        {"GET", "/vm/config", NULL, 200,
         "\"boot-source\":{\"kernel_image_path\":\"$D/kernel\",\"initrd_path\":\"$D/initrd\","
         "\"boot_args\":\"console=ttyS0 ember.root=none\"},\"cpu-config\":null,\"logger\":null,"
         "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":512,", -1},
        /* PUT /vsock */
        {"PUT", "/vsock", "{\"guest_cid\": 3}", 400, DESER "missing field `uds_path`.", -1},
        {"PUT", "/vsock", "{\"guest_cid\": -1, \"uds_path\": \"$D/v.sock\"}", 400,
         DESER "invalid value: integer `-1`, expected u32.", -1},
        {"PUT", "/vsock", "{\"guest_cid\": 4294967296, \"uds_path\": \"$D/v.sock\"}", 400,
         DESER "invalid value: integer `4294967296`, expected u32.", -1},
        {"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"$D/v.sock\", \"cid\": 3}", 400,
         DESER "unknown field `cid`, expected one of `vsock_id`, `guest_cid`, `uds_path`.", -1},
        {"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"$D/taken\"}", 400,
         "Vsock config error: Cannot create backend for vsock device: Error binding to the "
         "host-side Unix socket: Address already in use (os error 98)", -1},
        {"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"$D/v.sock\", \"vsock_id\": \"v\"}", 204,
         NULL, 1},
        /* a second PUT replaces the device: the old socket is removed, the new one bound */
        {"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"$D/v.sock\"}", 204, NULL, 0},
        {"GET", "/vm/config", NULL, 200,
         "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"$D/v.sock\"},\"entropy\":null,", -1},
        /* PUT /logger */
        {"PUT", "/logger", "{\"level\": \"debug\"}", 204, NULL, -1},
        {"PUT", "/logger", "{\"level\": \"Warning\", \"show_level\": true}", 204, NULL, -1},
        {"PUT", "/logger", "{\"level\": \"loud\"}", 400, DESER "Invalid LevelFilter.", -1},
        {"PUT", "/logger", "{\"log_path\": \"$D/nodir/log\"}", 400,
         "Logger error: Failed to open target file: No such file or directory (os error 2)", -1},
        {"PUT", "/logger", "{\"log_path\": \"$D/log\", \"show_log_origin\": false, \"module\": \"x\"}",
         204, NULL, -1},
        {"PUT", "/logger", "{\"path\": \"x\"}", 400, DESER "unknown field `path`", -1},
        /* PUT /metrics (no deny_unknown_fields in Firecracker) */
        {"PUT", "/metrics", "{}", 400, DESER "missing field `metrics_path`.", -1},
        {"PUT", "/metrics", "{\"metrics_path\": \"$D/nodir/m\"}", 400,
         "Metrics error: Cannot initialize the metrics system due to bad user input: No such "
         "file or directory (os error 2)", -1},
        {"PUT", "/metrics", "{\"metrics_path\": \"$D/metrics\", \"extra\": 1}", 204, NULL, -1},
        {"PUT", "/metrics", "{\"metrics_path\": \"$D/metrics\"}", 400,
         "Reinitialization of metrics not allowed.", -1},
        /* PUT /entropy, /serial */
        {"PUT", "/entropy", "{\"rate\": 1}", 400, DESER "unknown field `rate`, expected `rate_limiter`.", -1},
        {"PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": \"x\", \"refill_time\": 1}}}",
         400, DESER "invalid type: string \\\"x\\\", expected u64.", -1},
        {"PUT", "/entropy", "{}", 204, NULL, -1},
        {"GET", "/vm/config", NULL, 200, "\"entropy\":{\"rate_limiter\":null},", -1},
        {"PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 10, "
         "\"one_time_burst\": 5}}}", 204, NULL, -1},
        {"GET", "/vm/config", NULL, 200, "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":1000,"
         "\"one_time_burst\":5,\"refill_time\":10},\"ops\":null}}", -1},
        {"PUT", "/serial", "{\"out\": \"x\"}", 400, DESER "unknown field `out`, expected "
         "`serial_out_path` or `rate_limiter`.", -1},
        {"PUT", "/serial", "{\"serial_out_path\": \"$D/serial\", \"rate_limiter\": {\"size\": 10, "
         "\"refill_time\": 10}}", 204, NULL, -1},
        /* PUT /actions before boot */
        {"PUT", "/actions", "{}", 400, DESER "missing field `action_type`.", -1},
        {"PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400,
         DESER "unknown variant `Reboot`, expected one of `FlushMetrics`, `InstanceStart`, "
         "`SendCtrlAltDel`.", -1},
        {"PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"x\": 1}", 400,
         DESER "unknown field `x`, expected `action_type`.", -1},
        {"PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400, BEFORE, -1},
        {"PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400, BEFORE, -1},
        {"PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204, NULL, -1},
};

static const Case post_boot[] = {
        {"GET", "/", NULL, 200, "\"state\":\"Running\"", -1},
        {"GET", "/machine-config", NULL, 200, "\"mem_size_mib\":512", -1},
        {"GET", "/vm/config", NULL, 200, "\"drive_id\":\"rootfs\"", -1},
        /* deserialization comes first, the phase after it */
        {"PUT", "/machine-config", "{\"vcpu_count\": 2}", 400, DESER "missing field `mem_size_mib`.", -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", 400, AFTER, -1},
        {"PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": "
         "\"T2\"}", 400, AFTER, 1},
        {"PATCH", "/machine-config", "{}", 400, "Empty PATCH request.", -1},
        {"PATCH", "/machine-config", "{\"vcpu_count\": 1}", 400, AFTER, -1},
        {"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/kernel\"}", 400, AFTER, -1},
        {"PUT", "/drives/bad-id", "{}", 400, "API Resource IDs can only contain", -1},
        {"PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
         "\"path_on_host\": \"$D/disk.img\"}", 400, "PCI is not enabled", -1},
        {"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"$D/v2.sock\"}", 400, AFTER, -1},
        {"PUT", "/logger", "{\"level\": \"Info\"}", 400, AFTER, -1},
        {"PUT", "/metrics", "{\"metrics_path\": \"$D/metrics2\"}", 400, AFTER, -1},
        {"PUT", "/entropy", "{}", 400, AFTER, -1},
        {"PUT", "/serial", "{}", 400, AFTER, -1},
        {"PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400, AFTER, -1},
        {"PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204, NULL, -1},
        {"PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 204, NULL, -1},
        {"DELETE", "/drives/rootfs", NULL, 400, "PCI is not enabled", -1},
        {"DELETE", "/pmem/p0", NULL, 400, "PCI is not enabled", -1},
        {"GET", "/", "{}", 400, "GET request cannot have a body.", -1},
};

static char dir[64];

/* Replaces every "$D" with the temp dir. */
static char *expand(const char *s)
{
        if (!s)
                return NULL;
        size_t n = 0;
        char *out = malloc(strlen(s) * 2 + 256);
        for (const char *p = s; *p; p++) {
                if (p[0] == '$' && p[1] == 'D') {
                        n += (size_t)sprintf(out + n, "%s", dir);
                        p++;
                } else {
                        out[n++] = *p;
                }
        }
        out[n] = 0;
        return out;
}

static void run_case(Vmm *vm, const Case *c)
{
        char *path = expand(c->path), *body = expand(c->body), *expect = expand(c->expect);
        Reply r;
        router_handle(vm, c->method, path, body ? body : "", body ? strlen(body) : 0, body != NULL, &r);
        bool ok = r.status == c->status && (expect ? r.body && strstr(r.body, expect) : !r.body) &&
                  (c->deprecation < 0 || r.deprecation == (c->deprecation == 1));
        CHECK(ok);
        if (!ok)
                fprintf(stderr, "  %s %s %s\n  -> %d %s (deprecation %d)\n  expected %d %s\n",
                        c->method, path, body ? body : "(no body)", r.status,
                        r.body ? r.body : "(no body)", r.deprecation, c->status,
                        expect ? expect : "(no body)");
        reply_free(&r);
        free(path);
        free(body);
        free(expect);
}

static void make_file(const char *name, size_t size)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
        close(fd);
}

static void test_long_cmdline(Vmm *vm)
{
        char body[4096], path[256];
        snprintf(path, sizeof(path), "%s/kernel", dir);
        int n = snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"", path);
        memset(body + n, 'a', 2048);
        snprintf(body + n + 2048, sizeof(body) - (size_t)n - 2048, "\"}");
        Reply r;
        router_handle(vm, "PUT", "/boot-source", body, strlen(body), true, &r);
        CHECK_EQ_INT(r.status, 400);
        CHECK(r.body && strstr(r.body, "Inserting string would make command line too long."));
        reply_free(&r);
        /* 2047 characters fit: linux-loader's capacity (2048) counts the NUL */
        snprintf(body + n + 2047, sizeof(body) - (size_t)n - 2047, "\"}");
        router_handle(vm, "PUT", "/boot-source", body, strlen(body), true, &r);
        CHECK_EQ_INT(r.status, 204);
        reply_free(&r);
}

static void test_serde_lists(void)
{
        const char *names[] = {"a", "b", "c"};
        char out[128];
        fields_one_of(names, 0, out, sizeof(out));
        CHECK_STR(out, "there are no fields");
        fields_one_of(names, 1, out, sizeof(out));
        CHECK_STR(out, "expected `a`");
        fields_one_of(names, 2, out, sizeof(out));
        CHECK_STR(out, "expected `a` or `b`");
        fields_one_of(names, 3, out, sizeof(out));
        CHECK_STR(out, "expected one of `a`, `b`, `c`");
}

static void test_boot_args(Vmm *vm)
{
        char v[32];
        const Model *m = &vm->model;
        CHECK(model_boot_arg(m, "ember.root", v, sizeof(v)) && !strcmp(v, "none"));
        CHECK(model_boot_arg(m, "ember.port", v, sizeof(v)) == NULL);
}

static void test_api(void)
{
        Vmm vm;
        Err e = {0};
        EngineConfig cfg = {.init_path = "/nonexistent"};
        CHECK(vmm_init(&vm, "router-test", &fake_ops, &cfg, &e) == 0);
        for (size_t i = 0; i < ELEMENTSOF(pre_boot) - 1; i++)
                run_case(&vm, &pre_boot[i]);
        test_long_cmdline(&vm);
        run_case(&vm, &(Case){"PUT", "/boot-source", "{\"kernel_image_path\": \"$D/kernel\", "
                              "\"boot_args\": \"console=ttyS0 ember.root=none\"}", 204, NULL, -1});
        test_boot_args(&vm);
        run_case(&vm, &pre_boot[ELEMENTSOF(pre_boot) - 1]); /* InstanceStart */
        CHECK_EQ_INT(fake->starts, 1);
        CHECK(!fake->console_was_stdout); /* serial_out_path was configured */
        CHECK_EQ_INT(fake->drives_at_start, 2);
        for (size_t i = 0; i < ELEMENTSOF(post_boot); i++)
                run_case(&vm, &post_boot[i]);
        CHECK_EQ_INT(fake->starts, 1);
        CHECK_EQ_INT(fake->cads, 1);
        char path[256], *metrics = NULL;
        snprintf(path, sizeof(path), "%s/metrics", dir);
        CHECK(read_file(path, 4096, &metrics, NULL) == 0 && strstr(metrics, "\"utc_timestamp_ms\":"));
        free(metrics);
        vmm_free(&vm);
        /* Firecracker never removes the vsock socket; the caller does */
        snprintf(path, sizeof(path), "%s/v.sock", dir);
        CHECK(access(path, F_OK) == 0);
}

TEST_MAIN({
        snprintf(dir, sizeof(dir), "/tmp/ember-compat-router-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
        make_file("kernel", 4096);
        make_file("initrd", 4096);
        make_file("disk.img", 1 << 20);
        make_file("data.img", 1 << 20);
        make_file("serial", 0);
        make_file("taken", 0);
        test_serde_lists();
        test_api();
        CHECK(rm_rf(dir) == 0);
})
