/* test-jailer-args.c — ember-jailer's command line (the Firecracker jailer subset and the
 * two ember extensions), the chroot path, and the jailer command line emberd builds
 * (fc_jail_argv) including the cgroup settings of each version. No system changes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/util.h"
#include "jailer/args.h"
#include "test.h"
#include "vmm/fc-jail.h"

#define ARGV(...) ((char *const[]){"ember-jailer", __VA_ARGS__, NULL})

static int parse(char *const *argv, int argc, JailerArgs *a, Err *e)
{
        err_clear(e);
        return jailer_args_parse(argc, argv, a, e);
}

static int count(char *const *v)
{
        int n = 0;
        while (v[n])
                n++;
        return n;
}

static void test_full(void)
{
        char *const *v = ARGV("--id", "sb-1", "--exec-file", "/usr/bin/ember-vmm", "--uid", "65534",
                              "--gid=65534", "--chroot-base-dir", "/srv/j", "--netns", "/proc/1/fd/3",
                              "--new-pid-ns", "--daemonize", "--cgroup", "memory.max=1048576",
                              "--cgroup", "cpu.max=50000 100000", "--cgroup-version", "2",
                              "--parent-cgroup", "ember/vms", "--resource-limit", "no-file=64",
                              "--resource-limit", "fsize=1000", "--bind-ro", "/usr", "--extra-dev",
                              "loop", "--extra-dev", "null", "--", "--api-sock", "/run/x.sock");
        JailerArgs a;
        Err e = {0};
        CHECK_EQ_INT(parse(v, count(v), &a, &e), 0);
        CHECK_STR(a.id, "sb-1");
        CHECK_STR(a.exec_file, "/usr/bin/ember-vmm");
        CHECK_EQ_INT(a.uid, 65534);
        CHECK_EQ_INT(a.gid, 65534);
        CHECK_STR(a.chroot_base, "/srv/j");
        CHECK_STR(a.netns, "/proc/1/fd/3");
        CHECK(a.new_pid_ns && a.daemonize);
        CHECK_EQ_INT(a.n_cgroups, 2);
        CHECK_STR(a.cgroups[0].file, "memory.max");
        CHECK_STR(a.cgroups[1].value, "50000 100000");
        CHECK_EQ_INT(a.cgroup_version, 2);
        CHECK_STR(a.parent_cgroup, "ember/vms");
        CHECK_EQ_INT(a.nofile, 64);
        CHECK(a.fsize_set && a.fsize == 1000);
        CHECK_EQ_INT(a.n_bind_ro, 1);
        CHECK_EQ_INT(a.devs, JAILER_DEV_LOOP | JAILER_DEV_NULL);
        CHECK_EQ_INT(a.n_extra, 2);
        CHECK_STR(a.extra[1], "/run/x.sock");
}

static void test_defaults(void)
{
        char *const *v = ARGV("--id", "a", "--exec-file", "/x/firecracker", "--uid", "0", "--gid", "0");
        JailerArgs a;
        Err e = {0};
        CHECK_EQ_INT(parse(v, count(v), &a, &e), 0);
        CHECK_STR(a.chroot_base, JAILER_DEFAULT_CHROOT_BASE);
        CHECK_EQ_INT(a.cgroup_version, 1); /* Firecracker's default */
        CHECK_EQ_INT(a.nofile, JAILER_DEFAULT_NOFILE);
        CHECK(a.parent_cgroup == NULL);    /* = the exec file's name */
        CHECK(!a.new_pid_ns && !a.daemonize && a.n_extra == 0);
}

static const struct {
        const char *args[7];
        const char *msg;
} bad[] = {
        {{"--exec-file", "/x", "--uid", "0", "--gid", "0"}, "Missing argument: id."},
        {{"--id", "a", "--uid", "0", "--gid", "0"}, "Missing argument: exec-file."},
        {{"--id", "a/b", "--exec-file", "/x", "--uid", "0"}, "Invalid instance ID"},
        {{"--id", "a", "--id", "b", "--exec-file", "/x"}, "provided more than once"},
        {{"--id", "a", "--uid", "-1", "--gid", "0"}, "Invalid uid"},
        {{"--id", "a", "--cgroup", "nodot=1", "--uid", "0"}, "Invalid cgroup file"},
        {{"--id", "a", "--cgroup", "memory.max=", "--uid", "0"}, "Invalid format for cgroups"},
        {{"--id", "a", "--cgroup", "memory.max", "--uid", "0"}, "Invalid format for cgroups"},
        {{"--id", "a", "--cgroup-version", "3", "--uid", "0"}, "Invalid cgroup version"},
        {{"--id", "a", "--parent-cgroup", "../up", "--uid", "0"}, "Parent cgroup path is invalid"},
        {{"--id", "a", "--parent-cgroup", "/abs", "--uid", "0"}, "Parent cgroup path is invalid"},
        {{"--id", "a", "--resource-limit", "cpu=1", "--uid", "0"}, "Invalid resource argument"},
        {{"--id", "a", "--resource-limit", "fsize=x", "--uid", "0"}, "Invalid limit value"},
        {{"--id", "a", "--bind-ro", "relative", "--uid", "0"}, "absolute path"},
        {{"--id", "a", "--bind-ro", "/usr/../etc", "--uid", "0"}, "absolute path"},
        {{"--id", "a", "--extra-dev", "kvm2", "--uid", "0"}, "unknown device"},
        {{"--id", "a", "--bogus", "1", "--uid", "0"}, "wasn't expected"},
        {{"--id", "a", "--daemonize=1", "--uid", "0", "--gid"}, "does not take a value"},
        {{"--id", "a", "--exec-file", "/x", "--uid", "0", "--gid"}, "requires a value"},
};

static void test_bad(void)
{
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *argv[9] = {"ember-jailer"};
                int n = 1;
                for (; n <= 7 && bad[i].args[n - 1]; n++)
                        argv[n] = (char *)bad[i].args[n - 1];
                JailerArgs a;
                Err e = {0};
                CHECK_EQ_INT(parse(argv, n, &a, &e), -EINVAL);
                if (!strstr(e.msg, bad[i].msg))
                        fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, e.msg, bad[i].msg);
                CHECK(strstr(e.msg, bad[i].msg) != NULL);
        }
}

static void test_paths(void)
{
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL;
        CHECK_EQ_INT(jailer_chroot_dir("/srv/jailer", "/usr/bin/firecracker-v1.16.1", "vm-1", &p1), 0);
        CHECK_STR(p1, "/srv/jailer/firecracker-v1.16.1/vm-1/root");
        CHECK_EQ_INT(jailer_chroot_dir("/srv/j//", "ember-vmm", "x", &p2), 0);
        CHECK_STR(p2, "/srv/j/ember-vmm/x/root");
        CHECK_EQ_INT(jailer_chroot_dir("/", "/a/b", "x", &p3), 0);
        CHECK_STR(p3, "//b/x/root");
        char *none = NULL;
        CHECK_EQ_INT(jailer_chroot_dir("/srv", "/usr/bin/", "x", &none), -EINVAL);
        CHECK_STR(jailer_exec_name("/a/b/c"), "c");
        CHECK(instance_id_valid("sb-0123456789abcdef"));
        CHECK(!instance_id_valid(""));
        CHECK(!instance_id_valid("a_b"));
        char long_id[66];
        memset(long_id, 'a', 65);
        long_id[65] = 0;
        CHECK(!instance_id_valid(long_id));
        long_id[64] = 0;
        CHECK(instance_id_valid(long_id));
}

/* emberd's side: the command line handed to the jailer. */
static void test_fc_jail_argv(void)
{
        const char *const extra[] = {"--bind-ro", "/usr", NULL};
        const char *const vmm_extra[] = {"--init", "/emberd-init", NULL};
        FcJailConfig c = {.jailer = "/j/ember-jailer", .chroot_base = "/srv/j", .uid = 0, .gid = 0,
                          .jailer_args = extra, .vmm_args = vmm_extra};
        FcCgroupConfig cg = {.version = 1, .parent = "ember", .cpu_pct_per_vcpu = 50,
                             .mem_overhead_mib = 16, .pids_max = 100};
        FcJail j = {.exec_file = "/b/ember-vmm"};
        const char *const vmm_args[] = {"--engine", "process", NULL};
        char **argv = NULL;
        CHECK_EQ_INT(fc_jail_argv(&c, &cg, &j, "sb-1", 2, 128, "/proc/9/fd/4", vmm_args, &argv), 0);
        const char *want[] = {"/j/ember-jailer", "--id", "sb-1", "--exec-file", "/b/ember-vmm",
                              "--chroot-base-dir", "/srv/j", "--new-pid-ns", "--uid", "0", "--gid",
                              "0", "--netns", "/proc/9/fd/4", "--cgroup-version", "1",
                              "--parent-cgroup", "ember", "--cgroup", "cpu.cfs_period_us=100000",
                              "--cgroup", "cpu.cfs_quota_us=100000", "--cgroup",
                              "memory.limit_in_bytes=150994944", "--cgroup", "pids.max=100",
                              "--bind-ro", "/usr", "--", "--engine", "process", "--init",
                              "/emberd-init", "--api-sock", "/run/firecracker.socket", NULL};
        size_t i = 0;
        for (; argv && want[i]; i++)
                CHECK_STR(argv[i], want[i]);
        CHECK(argv && argv[i] == NULL);
        fc_jail_argv_free(argv);

        cg.version = 2; /* the same limits, v2 files */
        CgroupSetting s[8];
        size_t n = fc_jail_cgroup_settings(&cg, 2, 128, s, 8);
        CHECK_EQ_INT(n, 3);
        CHECK_STR(s[0].file, "cpu.max");
        CHECK_STR(s[0].value, "100000 100000");
        CHECK_STR(s[1].file, "memory.max");
        CHECK_STR(s[1].value, "150994944");
        CHECK_STR(s[2].file, "pids.max");
        cg.version = 0;
        CHECK_EQ_INT(fc_jail_cgroup_settings(&cg, 2, 128, s, 8), 0);
}

/* Socket paths of a jail must fit sun_path: a long base is refused up front. */
static void test_fc_jail_too_long(void)
{
        char base[] = "/tmp/ember-jail-test-XXXXXX";
        CHECK(mkdtemp(base) != NULL);
        char deep[200];
        snprintf(deep, sizeof(deep), "%s/%s", base,
                 "a-rather-long-directory-name-that-eats-the-sun-path-budget-of-unix-sockets");
        CHECK_EQ_INT(mkdir(deep, 0700), 0);
        FcJailConfig c = {.jailer = "/bin/true", .chroot_base = deep};
        FcJail j;
        Err e = {0};
        CHECK_EQ_INT(fc_jail_create(&c, "/bin/true", "sb-0123456789abcdef", &j, &e), -ENAMETOOLONG);
        CHECK(strstr(e.msg, "too long") != NULL);
        rmdir(deep);
        rmdir(base);
}

TEST_MAIN({
        test_full();
        test_defaults();
        test_bad();
        test_paths();
        test_fc_jail_argv();
        test_fc_jail_too_long();
})
