/* fuzz-fc-api.c — ember-vmm's Firecracker API as a client drives it: requests split from
 * the input go through router_handle() (routes, path ids, body tables, boot phases,
 * handlers, the model) of one fresh VM with a fake engine; replies and model are checked.
 * Must not touch the host's files: bodies name paths, so see the sandbox below. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/engine.h"
#include "compat/router.h"
#include "compat/vmm.h"
#include "fuzz-util.h"

/* Checks: status 200/204/400, Firecracker's body shapes, valid JSON, and the model's
 * invariants after each request (fds open, root drive first, limits held).
 * The model opens, creates and binds the paths a body names, as Firecracker does. So that
 * a fuzzer running as root cannot touch the host, every request runs inside a private
 * scratch directory (the cwd during the input) and a request whose body holds a string
 * with a '/' is not sent: paths stay names inside that directory. The directory holds
 * kernel, initrd, disk.img, data.img and taken at the start of each input.
 * Input: fuzz-util.h's text format, e.g. "PUT /machine-config\n{...}\n%%\nGET /vm/config". */

/* ---- a fake engine: checks what it is asked to boot ---- */

struct Engine {
        int starts;
};

static int fake_create(const EngineConfig *cfg, Engine **ret, Err *e)
{
        *ret = calloc(1, sizeof(Engine));
        return *ret ? 0 : err_set(e, ENOMEM, "out of memory");
}

static bool fd_open(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) >= 0; }

static void check_model(const Model *m)
{
        FUZZ_CHECK(m->n_drives <= COMPAT_MAX_DRIVES, "%u drives", m->n_drives);
        for (unsigned i = 0; i < m->n_drives; i++) {
                FUZZ_CHECK(fd_open(m->drives[i].fd), "drive %u without an open file", i);
                FUZZ_CHECK(i == 0 || !m->drives[i].cfg.is_root_device, "root drive at %u", i);
                for (unsigned j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(m->drives[i].cfg.drive_id, m->drives[j].cfg.drive_id),
                                   "drive id %s twice", m->drives[i].cfg.drive_id);
        }
        FUZZ_CHECK(!m->has_boot || fd_open(m->kernel_fd), "boot source without a kernel fd");
        FUZZ_CHECK(!m->has_vsock || fd_open(m->vsock_fd), "vsock without a listener");
        FUZZ_CHECK(strlen(model_cmdline(m)) < COMPAT_CMDLINE_MAX, "command line too long");
        FUZZ_CHECK(m->machine.vcpu_count >= 1 && m->machine.vcpu_count <= COMPAT_MAX_VCPUS &&
                           m->machine.mem_size_mib >= 1,
                   "machine config %llu vcpus %llu MiB", (unsigned long long)m->machine.vcpu_count,
                   (unsigned long long)m->machine.mem_size_mib);
        FUZZ_CHECK(!m->machine.smt || m->machine.vcpu_count == 1 || m->machine.vcpu_count % 2 == 0,
                   "smt with %llu vcpus", (unsigned long long)m->machine.vcpu_count);
}

/* Boots nothing; fails on "fuzz.fail" in the command line so the failure path runs too. */
static int fake_start(Engine *en, const Model *m, int console_fd, Err *e)
{
        char root[8];
        FUZZ_CHECK(m->has_boot && fd_open(console_fd), "started without kernel or console");
        check_model(m);
        (void)model_boot_arg(m, "ember.root", root, sizeof(root));
        if (strstr(model_cmdline(m), "fuzz.fail"))
                return err_set(e, EIO, "the fake engine failed as asked");
        en->starts++;
        return 0;
}

static int fake_cad(Engine *en, Err *e) { return 0; }
static int fake_open_port(Engine *en, uint32_t port, int *ret_fd) { return -ECONNREFUSED; }
static int fake_exit_fd(Engine *en) { return -1; }
static int fake_reap(Engine *en, char *how, size_t n) { return 0; }
static void fake_destroy(Engine *en) { free(en); }

static const EngineOps fake_ops = {
        .name = "fuzz", .create = fake_create, .start = fake_start, .ctrl_alt_del = fake_cad,
        .open_port = fake_open_port, .exit_fd = fake_exit_fd, .reap = fake_reap,
        .destroy = fake_destroy,
};

/* ---- the sandbox of the filesystem ---- */

static int cwd_fd = -1, scratch_fd = -1;
static const char *const fixtures[] = {"kernel", "initrd", "disk.img", "data.img", "taken"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_quiet();
        const char *dir = fuzz_scratch_dir("fc-api");
        cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        scratch_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(cwd_fd >= 0 && scratch_fd >= 0, "cannot open the working directories: %m");
        return 0;
}

static bool json_has_slash(json_t *v)
{
        const char *k;
        json_t *x;
        size_t i;
        if (json_is_string(v))
                return memchr(json_string_value(v), '/', json_string_length(v)) != NULL;
        if (json_is_object(v)) {
                json_object_foreach(v, k, x) {
                        if (json_has_slash(x))
                                return true;
                }
        }
        if (json_is_array(v)) {
                json_array_foreach(v, i, x) {
                        if (json_has_slash(x))
                                return true;
                }
        }
        return false;
}

/* Could a string of this body be a path outside the scratch directory? Parsed more
 * leniently than the router does (NUL allowed, duplicates kept), so nothing the router
 * accepts escapes this check. */
static bool body_unsafe(const FuzzReq *rq)
{
        if (!rq->body_len)
                return false;
        json_error_t je;
        json_t *v = json_loadb((const char *)rq->body, rq->body_len,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        bool unsafe = v && json_has_slash(v);
        json_decref(v);
        return unsafe;
}

static void fixtures_create(void)
{
        fuzz_scratch_clean();
        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                int fd = open(fixtures[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                FUZZ_CHECK(fd >= 0 && write(fd, "fuzz", 4) == 4, "fixture %s: %m", fixtures[i]);
                close(fd);
        }
}

/* ---- the checks ---- */

static void check_reply(const FuzzReq *rq, const Reply *r)
{
        FUZZ_CHECK(r->status == 200 || r->status == 204 || r->status == 400, "%s %s: status %d",
                   rq->method, rq->path, r->status);
        if (r->close) { /* micro-http's own error: raw newline, not JSON, by design */
                FUZZ_CHECK(r->status == 400 && r->body && !strncmp(r->body, "{ \"error\": \"", 12),
                           "bad transport error");
                return;
        }
        if (r->status == 204) {
                FUZZ_CHECK(!r->body, "204 with a body");
                return;
        }
        json_error_t je;
        json_t *j = r->body ? json_loads(r->body, 0, &je) : NULL;
        FUZZ_CHECK(json_is_object(j), "%s %s: answer is not a JSON object: %s", rq->method,
                   rq->path, r->body ? r->body : "(none)");
        if (r->status == 400)
                FUZZ_CHECK(json_object_size(j) == 1 &&
                                   json_string_length(json_object_get(j, "fault_message")) > 0,
                           "not a fault body: %s", r->body);
        json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t fds = fuzz_fd_snapshot();
        FUZZ_CHECK(fchdir(scratch_fd) == 0, "fchdir: %m");
        fixtures_create();
        Vmm vm;
        Err e = {0};
        EngineConfig cfg = {0};
        FUZZ_CHECK(vmm_init(&vm, "fuzz-vm", &fake_ops, &cfg, &e) == 0, "vmm_init: %s", e.msg);
        FuzzIn in = {data, size};
        FuzzReq rq;
        while (fuzz_next_request(&in, &rq)) {
                if (!body_unsafe(&rq)) {
                        Reply r = {0};
                        router_handle(&vm, rq.method, rq.path, (const char *)rq.body, rq.body_len,
                                      rq.body_len > 0, &r);
                        check_reply(&rq, &r);
                        check_model(&vm.model);
                        reply_free(&r);
                }
                fuzz_req_free(&rq);
        }
        vmm_free(&vm);
        fuzz_scratch_clean();
        FUZZ_CHECK(fchdir(cwd_fd) == 0, "fchdir: %m");
        fuzz_fd_check(fds);
        return 0;
}
