/* test-compat-live-boot.c — ember-vmm --engine process with the real emberd-init: configure
 * over the API, InstanceStart, CONNECT 52 -> "OK 1073741824", PING -> PONG, a refused port,
 * SendCtrlAltDel -> ember-vmm exits 0, and nothing left behind (guest processes, loop
 * devices, mounts). Once with ember.root=none, once with a squashfs root on a loop device,
 * and once more killing ember-vmm instead: its guest and loop device must go with it.
 * Skips (77) without root or without a built emberd-init. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live.h"
#include "proto/proto.h"
#include "shared/cleanup.h"
#include "shared/util.h"
#include "test.h"

static const char *init_bin;

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static void put(const Live *l, const char *path, const char *body)
{
        HttpResp r;
        int ret = live_http(l, "PUT", path, body, &r);
        CHECK(ret == 0 && r.status == 204);
        if (ret != 0 || r.status != 204)
                fprintf(stderr, "  PUT %s %s -> %d %d %s\n", path, body, ret, r.status, r.body);
}

static void read_line(int fd, char *out, size_t size)
{
        size_t n = 0;
        int64_t deadline = now_ms() + LIVE_WAIT_MS;
        while (n + 1 < size && fd_wait_readable(fd, deadline) > 0 && read(fd, out + n, 1) == 1)
                if (out[n++] == '\n')
                        break;
        out[n] = 0;
}

static int vsock_connect(const char *uds, const char *line, char *answer, size_t size)
{
        int fd = -1;
        CHECK(unix_connect(uds, &fd) == 0);
        if (fd >= 0) {
                CHECK(fd_write_all(fd, line, strlen(line), -1) == 0);
                read_line(fd, answer, size);
        }
        return fd;
}

static void ping(int fd)
{
        ProtoFrame f = {0};
        int64_t deadline = now_ms() + LIVE_WAIT_MS;
        CHECK(proto_write_frame(fd, PROTO_PING, NULL, 0, deadline) == 0);
        CHECK(proto_read_frame(fd, &f, deadline) == 0);
        CHECK_EQ_INT(f.hdr.type, PROTO_PONG);
        proto_frame_free(&f);
}

/* Is any process's command line carrying token? (the guest's emberd-init has it in --cmdline) */
static bool token_alive(const char *token)
{
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        struct dirent *de;
        bool found = false;
        while (d && !found && (de = readdir(d))) {
                char path[300], *text = NULL;
                size_t len = 0;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
                if (read_file(path, 1 << 16, &text, &len) == 0)
                        found = memmem(text, len, token, strlen(token)) != NULL;
                free(text);
        }
        return found;
}

/* How many loop devices are backed by path. */
static int loops_with(const char *path)
{
        _cleanup_(closedirp) DIR *d = opendir("/sys/block");
        struct dirent *de;
        int n = 0;
        while (d && (de = readdir(d))) {
                char p[300], *text = NULL;
                if (strncmp(de->d_name, "loop", 4) != 0)
                        continue;
                snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
                if (read_file(p, 4096, &text, NULL) == 0 && !strncmp(text, path, strlen(path)))
                        n++;
                free(text);
        }
        return n;
}

static bool mounts_mention(const char *s)
{
        _cleanup_free_ char *text = NULL;
        return read_file("/proc/self/mountinfo", 1 << 20, &text, NULL) == 0 && strstr(text, s);
}

#define WAIT_UNTIL(cond)                                                                           \
        ({                                                                                         \
                int64_t _dl = now_ms() + LIVE_WAIT_MS;                                             \
                while (!(cond) && now_ms() < _dl)                                                  \
                        usleep(20 * 1000);                                                         \
                (cond);                                                                            \
        })

static int make_squashfs(const char *dir, char *out, size_t size)
{
        char cmd[1024];
        snprintf(out, size, "%s/root.sqfs", dir);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/root/dev %s/root/proc %s/root/sys %s/root/tmp "
                 "%s/root/run %s/root/etc && echo hello > %s/root/etc/marker && "
                 "mksquashfs %s/root %s -noappend -quiet >/dev/null 2>&1", dir, dir, dir, dir, dir,
                 dir, dir, dir, out);
        return system(cmd) == 0 ? 0 : -ENOENT;
}

static void configure(const Live *l, const char *boot_args, const char *sqfs)
{
        char body[2048], kernel[128];
        snprintf(kernel, sizeof(kernel), "%s/vmlinux", l->dir);
        CHECK(write_file(kernel, "not a kernel", 12, 0644) == 0); /* openable is all it takes */
        put(l, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
        snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}",
                 kernel, boot_args);
        put(l, "/boot-source", body);
        if (sqfs) {
                snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
                         "\"is_root_device\": true, \"is_read_only\": true}", sqfs);
                put(l, "/drives/rootfs", body);
        }
        snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s/v.sock\"}", l->dir);
        put(l, "/vsock", body);
}

static void talk(const Live *l)
{
        char uds[128], ans[64];
        snprintf(uds, sizeof(uds), "%s/v.sock", l->dir);
        int h1 = vsock_connect(uds, "CONNECT 52\n", ans, sizeof(ans));
        CHECK_STR(ans, "OK 1073741824\n");
        ping(h1);
        int h2 = vsock_connect(uds, "CONNECT 52\n", ans, sizeof(ans));
        CHECK_STR(ans, "OK 1073741825\n");
        ping(h2);
        int h3 = vsock_connect(uds, "CONNECT 53\n", ans, sizeof(ans));
        CHECK_STR(ans, ""); /* nothing listens on 53: closed without a word */
        close(h1);
        close(h2);
        close(h3);
}

/* how = 0: SendCtrlAltDel (exit 0); how = SIGKILL: ember-vmm killed, the guest must follow */
static void boot(const char *name, bool with_squashfs, int how)
{
        Live l;
        char token[64], args[512], sqfs[160], log[8192];
        uint64_t rnd = 0;
        CHECK(getrandom(&rnd, sizeof(rnd), 0) == sizeof(rnd));
        snprintf(token, sizeof(token), "compat_test=%016llx", (unsigned long long)rnd);
        CHECK(live_setup(&l, name) == 0);
        if (with_squashfs && make_squashfs(l.dir, sqfs, sizeof(sqfs)) < 0) {
                printf("%s: SKIP the squashfs case: mksquashfs failed or is missing\n", name);
                live_teardown(&l);
                return;
        }
        snprintf(args, sizeof(args), "console=ttyS0 reboot=k panic=1 ember.root=%s "
                 "ember.overlay_size=32m %s", with_squashfs ? "/dev/vda" : "none", token);
        const char *argv[] = {"--id", name, "--init", init_bin, NULL};
        CHECK(live_spawn(&l, argv) == 0);
        CHECK(live_wait_socket(&l) == 0);
        configure(&l, args, with_squashfs ? sqfs : NULL);
        put(&l, "/actions", "{\"action_type\": \"InstanceStart\"}");
        CHECK(token_alive(token));
        if (with_squashfs)
                CHECK_EQ_INT(loops_with(sqfs), 1);
        talk(&l);
        if (how == SIGKILL) {
                CHECK(kill(l.pid, SIGKILL) == 0);
                CHECK_EQ_INT(live_wait_exit(&l, LIVE_WAIT_MS), 128 + SIGKILL);
        } else {
                put(&l, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
                /* the guest's end ends ember-vmm with 0, like a guest reboot */
                CHECK_EQ_INT(live_wait_exit(&l, LIVE_WAIT_MS), 0);
        }
        CHECK(WAIT_UNTIL(!token_alive(token)));
        if (with_squashfs)
                CHECK(WAIT_UNTIL(loops_with(sqfs) == 0)); /* autoclear took the loop device */
        CHECK(!mounts_mention(l.dir));
        live_output(&l, log, sizeof(log));
        CHECK(strstr(log, "process engine: NOT an isolation boundary") != NULL);
        if (test_failed)
                fprintf(stderr, "---- %s output ----\n%s\n", name, log);
        live_teardown(&l);
}

int main(void)
{
        init_bin = getenv("EMBER_TEST_INIT");
        if (geteuid() != 0) {
                printf("SKIP: the process engine needs root (namespaces, loop devices)\n");
                return 77;
        }
        if (!init_bin || access(init_bin, X_OK) < 0) {
                printf("SKIP: emberd-init is not built (EMBER_TEST_INIT=%s)\n",
                       init_bin ? init_bin : "unset");
                return 77;
        }
        boot("compat-boot-none", false, 0);
        boot("compat-boot-sqfs", true, 0);
        boot("compat-boot-kill", true, SIGKILL); /* PR_SET_PDEATHSIG + autoclear */
        printf("%s: %d checks, %d failed\n", __FILE__, test_checks, test_failed);
        return test_failed ? 1 : 0;
}
