/* test-compat-qemu.c — the qemu engine's parts without QEMU: the command line builder, the
 * QMP client against a scripted peer, the console thread (copy, last error line, size bound)
 * and the KVM probe's verdict and cache with fake QEMU scripts (those parts need a /dev/kvm
 * that can create a VM, else they are skipped). The real QEMU runs in tests/e2e. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/kvm-probe.h"
#include "compat/qemu-args.h"
#include "compat/qemu-console.h"
#include "compat/qmp.h"
#include "shared/util.h"
#include "test.h"

/* ---- qemu-args ---- */

static int find(char **argv, const char *s)
{
        for (int i = 0; argv[i]; i++)
                if (!strcmp(argv[i], s))
                        return i;
        return -1;
}

/* opt followed by val somewhere in argv */
static bool has_pair(char **argv, const char *opt, const char *val)
{
        for (int i = 0; argv[i] && argv[i + 1]; i++)
                if (!strcmp(argv[i], opt) && !strcmp(argv[i + 1], val))
                        return true;
        return false;
}

static QemuSpec base_spec(void)
{
        return (QemuSpec){.qemu_bin = "qemu-system-x86_64", .name = "sb-1", .vcpus = 1,
                          .mem_mib = 256, .kernel = "/img/vmlinux", .initrd = NULL,
                          .cmdline = "console=ttyS0", .vsock_fd = -1, .serial_fd = 10,
                          .qmp_fd = -1};
}

static void test_args_full(void)
{
        QemuDrive d[2] = {{.id = "rootfs", .fd = 7, .read_only = true},
                          {.id = "data_1", .fd = 8, .writeback = true}};
        QemuSpec s = base_spec();
        s.initrd = "/img/init,rd"; /* a comma: its own argv element, never an option string */
        s.drives = d;
        s.n_drives = 2;
        s.rng = true;
        s.rng_bytes = 1000;
        s.rng_period_ms = 100;
        s.vsock_fd = 9;
        s.qmp_fd = 11;
        s.paused = true;
        char **a = NULL;
        Err e = {0};
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), 0);
        if (!a)
                return;
        CHECK_STR(a[0], "qemu-system-x86_64");
        CHECK(has_pair(a, "-accel", "tcg,tb-size=128") && find(a, "-cpu") < 0);
        CHECK(has_pair(a, "-object", "memory-backend-memfd,id=mem0,size=256M,share=on,dump=off"));
        CHECK(has_pair(a, "-machine", "q35,memory-backend=mem0") && has_pair(a, "-m", "256M"));
        CHECK(has_pair(a, "-smp", "1") && find(a, "-S") > 0 && find(a, "-no-reboot") > 0);
        CHECK(find(a, "-nodefaults") > 0 && has_pair(a, "-display", "none"));
        CHECK(has_pair(a, "-kernel", "/img/vmlinux") && has_pair(a, "-initrd", "/img/init,rd"));
        CHECK(has_pair(a, "-append", "console=ttyS0"));
        CHECK(has_pair(a, "-add-fd", "fd=7,set=1") && has_pair(a, "-add-fd", "fd=8,set=2"));
        CHECK(has_pair(a, "-drive", "if=none,id=drive_rootfs,file=/dev/fdset/1,format=raw,"
                                    "readonly=on,cache=unsafe"));
        CHECK(has_pair(a, "-drive", "if=none,id=drive_data_1,file=/dev/fdset/2,format=raw,"
                                    "readonly=off,cache=writeback"));
        CHECK(find(a, "virtio-blk-pci,drive=drive_rootfs,id=blk_rootfs") <
              find(a, "virtio-blk-pci,drive=drive_data_1,id=blk_data_1")); /* root = vda */
        CHECK(has_pair(a, "-device", "virtio-rng-pci,rng=rng0,max-bytes=1000,period=100"));
        CHECK(has_pair(a, "-chardev", "socket,id=vu0,fd=9"));
        CHECK(has_pair(a, "-device", "pcie-root-port,id=rp1,chassis=1,slot=1"));
        CHECK(has_pair(a, "-device", "vhost-user-vsock-pci,chardev=vu0,id=vsock0,bus=rp1"));
        CHECK(has_pair(a, "-chardev", "socket,id=ser0,fd=10") && has_pair(a, "-serial", "chardev:ser0"));
        CHECK(has_pair(a, "-chardev", "socket,id=qmp0,fd=11"));
        CHECK(has_pair(a, "-mon", "chardev=qmp0,mode=control"));
        qemu_args_free(a);
}

static void test_args_minimal_and_kvm(void)
{
        QemuSpec s = base_spec();
        s.kvm = true;
        s.vcpus = 4;
        s.smt = true;
        s.huge_pages = true;
        char **a = NULL;
        Err e = {0};
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), 0);
        if (!a)
                return;
        CHECK(has_pair(a, "-accel", "kvm") && has_pair(a, "-cpu", "host"));
        CHECK(has_pair(a, "-smp", "4,cores=2,threads=2"));
        CHECK(has_pair(a, "-object", "memory-backend-memfd,id=mem0,size=256M,share=on,dump=off,"
                                     "hugetlb=on,hugetlbsize=2M"));
        CHECK(find(a, "-initrd") < 0 && find(a, "-S") < 0 && find(a, "-mon") < 0);
        CHECK(find(a, "vhost-user-vsock-pci,chardev=vu0,id=vsock0,bus=rp1") < 0);
        CHECK(find(a, "-add-fd") < 0 && find(a, "rng-builtin,id=rng0") < 0);
        qemu_args_free(a);
}

static void test_args_refused(void)
{
        char big[QEMU_CMDLINE_MAX + 1];
        char **a = NULL;
        Err e = {0};
        QemuSpec s = base_spec();
        s.vcpus = 3;
        s.smt = true;
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), -EINVAL);
        CHECK(strstr(e.msg, "smt") != NULL);
        s = base_spec();
        memset(big, 'x', QEMU_CMDLINE_MAX);
        big[QEMU_CMDLINE_MAX] = 0;
        s.cmdline = big;
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), -EINVAL);
        CHECK(strstr(e.msg, "command line") != NULL);
        big[QEMU_CMDLINE_MAX - 1] = 0; /* 2047 bytes: the most the guest keeps */
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), 0);
        qemu_args_free(a);
        s = base_spec();
        s.vcpus = 0;
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), -EINVAL);
        s = base_spec();
        s.kernel = NULL;
        CHECK_EQ_INT(qemu_args_build(&s, &a, &e), -EINVAL);
}

/* ---- QMP ---- */

static void test_qmp_classify(void)
{
        CHECK_EQ_INT(qmp_classify("{\"QMP\": {\"version\": {}}}", NULL), QMP_MSG_GREETING);
        CHECK_EQ_INT(qmp_classify("{\"return\": {}}", NULL), QMP_MSG_RETURN);
        CHECK_EQ_INT(qmp_classify("{\"return\": []}", NULL), QMP_MSG_RETURN);
        CHECK_EQ_INT(qmp_classify("{\"error\": {\"class\": \"X\", \"desc\": \"d\"}}", NULL),
                     QMP_MSG_ERROR);
        CHECK_EQ_INT(qmp_classify("{\"event\": \"RESET\", \"timestamp\": {}}", NULL), QMP_MSG_EVENT);
        CHECK_EQ_INT(qmp_classify("{\"error\": \"flat\"}", NULL), QMP_MSG_BAD);
        CHECK_EQ_INT(qmp_classify("[1]", NULL), QMP_MSG_BAD);
        CHECK_EQ_INT(qmp_classify("{\"return\": {}, \"return\": 1}", NULL), QMP_MSG_BAD);
        CHECK_EQ_INT(qmp_classify("not json", NULL), QMP_MSG_BAD);
}

/* The scripted QEMU: for each expected command, what it writes back. */
static const struct {
        const char *expect; /* substring of the command line we must receive; NULL = none */
        const char *reply;
} script[] = {
        {NULL, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n"},
        {"\"qmp_capabilities\"", "{\"return\": {}}\r\n"},
        /* an event before the reply, and the reply split over two writes */
        {"\"cont\"", "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1}}\r\n{\"retu"},
        {NULL, "rn\": {}}\r\n"},
        {"\"send-key\"", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no keyboard\"}}\r\n"},
        {"\"query-status\"", "{\"return\": {\"status\": \"running\"}}\r\n"},
};

static void *fake_qemu(void *arg)
{
        int fd = *(int *)arg;
        char buf[4096];
        size_t have = 0;
        for (size_t i = 0; i < ELEMENTSOF(script); i++) {
                while (script[i].expect) {
                        buf[have] = 0;
                        char *nl = strchr(buf, '\n');
                        if (nl) {
                                *nl = 0;
                                if (!strstr(buf, script[i].expect))
                                        fprintf(stderr, "fake qemu: got %s\n", buf);
                                memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf));
                                have -= (size_t)(nl + 1 - buf);
                                break;
                        }
                        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
                        if (n <= 0)
                                return NULL;
                        have += (size_t)n;
                }
                if (write(fd, script[i].reply, strlen(script[i].reply)) < 0)
                        return NULL;
        }
        /* a line longer than any reply may be, then nothing */
        char *big = malloc(QMP_LINE_MAX);
        if (big) { /* the client takes QMP_LINE_MAX - 1 bytes, then gives up */
                memset(big, ' ', QMP_LINE_MAX);
                ssize_t _unused_ w = write(fd, big, QMP_LINE_MAX);
                free(big);
        }
        return NULL;
}

static void test_qmp_session(void)
{
        int sv[2];
        pthread_t t;
        Err e = {0};
        json_t *ret = NULL;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return;
        pthread_create(&t, NULL, fake_qemu, &sv[1]);
        Qmp *q = malloc(sizeof(*q));
        CHECK_EQ_INT(qmp_init(q, sv[0]), 0);
        int64_t deadline = now_ms() + 10000;
        CHECK_EQ_INT(qmp_handshake(q, deadline, &e), 0);
        CHECK_EQ_INT(qmp_execute(q, "cont", NULL, deadline, NULL, &e), 0);
        CHECK_EQ_INT(qmp_execute(q, "send-key", json_pack("{s:[]}", "keys"), deadline, NULL, &e),
                     -EIO);
        CHECK(strstr(e.msg, "no keyboard") != NULL);
        CHECK_EQ_INT(qmp_execute(q, "query-status", NULL, deadline, &ret, &e), 0);
        CHECK_STR(json_string_value(json_object_get(ret, "status")), "running");
        json_decref(ret);
        /* the next reply is an over-long line: refused, never buffered without bound */
        CHECK_EQ_INT(qmp_execute(q, "stop", NULL, deadline, NULL, &e), -EMSGSIZE);
        pthread_join(t, NULL);
        /* nothing more comes: the deadline ends the wait */
        q->len = 0;
        CHECK_EQ_INT(qmp_execute(q, "stop", NULL, now_ms() + 50, NULL, &e), -ETIMEDOUT);
        close(sv[1]);
        CHECK_EQ_INT(qmp_execute(q, "stop", NULL, deadline, NULL, &e), -EPIPE);
        free(q);
        close(sv[0]);
}

/* ---- console ---- */

static char tmpdir[] = "/tmp/test-compat-qemu.XXXXXX";

static size_t file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_console(void)
{
        char path[128], *text = NULL, last[QEMU_CONSOLE_LINE_MAX];
        size_t len = 0;
        int sv[2], ep[2];
        QemuConsole *c = NULL;
        Err e = {0};
        snprintf(path, sizeof(path), "%s/console.log", tmpdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
            pipe2(ep, O_CLOEXEC) < 0)
                return;
        CHECK_EQ_INT(qemu_console_start(sv[0], ep[0], fd, &c, &e), 0);
        CHECK(write(sv[1], "boot\r\nFATAL: x\n", 15) == 15);
        CHECK(write(ep[1], "qemu: warning\nqemu-system-x86_64: boom", 38) == 38);
        close(sv[1]);
        close(ep[1]);
        qemu_console_finish(c, now_ms() + 10000); /* EOF on both: everything is in the file */
        CHECK_EQ_INT(read_file(path, 4096, &text, &len), 0);
        CHECK_STR(text, "boot\r\nFATAL: x\n");
        free(text);
        qemu_console_last_error(c, last, sizeof(last));
        CHECK_STR(last, "qemu-system-x86_64: boom"); /* a last line without its newline too */
        qemu_console_free(c);

        /* a flood: the file restarts with a marker and never passes the bound */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0)
                return;
        CHECK_EQ_INT(qemu_console_start(sv[0], ep[0], fd, &c, &e), 0);
        char chunk[65536];
        memset(chunk, 'a', sizeof(chunk));
        size_t sent = 0, max_seen = 0;
        while (sent < QEMU_CONSOLE_MAX + 3 * sizeof(chunk)) {
                if (fd_write_all(sv[1], chunk, sizeof(chunk), -1) < 0)
                        break;
                sent += sizeof(chunk);
                max_seen = MAX(max_seen, file_size(path));
        }
        CHECK(write(sv[1], "\nLAST\n", 6) == 6);
        close(sv[1]);
        close(ep[1]);
        qemu_console_finish(c, now_ms() + 10000);
        CHECK(file_size(path) <= QEMU_CONSOLE_MAX && max_seen <= QEMU_CONSOLE_MAX);
        CHECK_EQ_INT(read_file(path, QEMU_CONSOLE_MAX + 1, &text, &len), 0);
        CHECK(text && !strncmp(text, "[ember-vmm: console", 19));
        CHECK(text && len >= 6 && !strcmp(text + len - 6, "\nLAST\n"));
        CHECK(qemu_console_bytes(c) >= sent);
        free(text);
        qemu_console_free(c);
        close(fd);
        unlink(path);
}

/* ---- KVM probe, with fake QEMUs ---- */

static void write_script(const char *path, const char *body)
{
        char text[1024];
        snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
        CHECK_EQ_INT(write_file(path, text, strlen(text), 0755), 0);
}

/* The serial fd from "-chardev socket,id=ser0,fd=N". */
#define FIND_SERIAL "for a; do case $a in socket,id=ser0,fd=*) fd=${a##*fd=};; esac; done; "

static void test_probe(void)
{
        char good[128], bad[128], mute[128], kernel[128], initrd[128], cache[128];
        KvmVerdict v;
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0) {
                printf("test_probe: no /dev/kvm: verdict and cache not exercised\n");
                KvmProbeConfig c = {.kernel = "/nonexistent"};
                kvm_probe(&c, &v);
                CHECK(!v.usable && strstr(v.reason, "/dev/kvm"));
                return;
        }
        close(kvm);
        snprintf(good, sizeof(good), "%s/qemu-good", tmpdir);
        snprintf(bad, sizeof(bad), "%s/qemu-bad", tmpdir);
        snprintf(mute, sizeof(mute), "%s/qemu-mute", tmpdir);
        snprintf(kernel, sizeof(kernel), "%s/vmlinux", tmpdir);
        snprintf(initrd, sizeof(initrd), "%s/initrd", tmpdir);
        snprintf(cache, sizeof(cache), "%s/cache/kvm-probe", tmpdir);
        write_script(good, FIND_SERIAL "eval \"echo 'emberd-init[info] ready in 3 ms' >&$fd\"; "
                           "exec sleep 30");
        write_script(bad, "echo 'qemu: failed to set MSR' >&2; exit 1");
        write_script(mute, "exec sleep 30");
        CHECK_EQ_INT(write_file(kernel, "k", 1, 0644), 0);
        CHECK_EQ_INT(write_file(initrd, "i", 1, 0644), 0);

        KvmProbeConfig c = {.qemu_bin = good, .kernel = kernel, .initrd = initrd,
                            .cache_path = cache};
        kvm_probe(&c, &v);
        CHECK(v.usable && !v.cached);
        kvm_probe(&c, &v);
        CHECK(v.usable && v.cached); /* the second time costs nothing */

        c.qemu_bin = bad; /* another QEMU: another key */
        kvm_probe(&c, &v);
        CHECK(!v.usable && !v.cached && strstr(v.reason, "failed to set MSR") &&
              strstr(v.reason, "status 1"));
        kvm_probe(&c, &v);
        CHECK(!v.usable && v.cached);

        c.qemu_bin = mute;
        c.deadline_ms = 200;
        kvm_probe(&c, &v);
        CHECK(!v.usable && strstr(v.reason, "did not reach its init"));

        c.kernel = "/nonexistent/vmlinux";
        kvm_probe(&c, &v);
        CHECK(!v.usable && strstr(v.reason, "cannot boot a probe guest"));

        char line[300];
        kvm_probe_format(&(KvmVerdict){.usable = true, .cached = true, .reason = "r"}, line,
                         sizeof(line));
        CHECK_STR(line, "kvm: usable (r; cached)");
}

TEST_MAIN({
        signal(SIGPIPE, SIG_IGN); /* as in ember-vmm: a closed peer is an error, not death */
        if (!mkdtemp(tmpdir))
                return 1;
        test_args_full();
        test_args_minimal_and_kvm();
        test_args_refused();
        test_qmp_classify();
        test_qmp_session();
        test_console();
        test_probe();
        rm_rf(tmpdir);
})
