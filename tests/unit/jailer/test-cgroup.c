/* test-cgroup.c — src/vmm/cgroup.c against fake cgroupfs trees in a temp directory: a
 * mounts file names them, directories stand for cgroups and files for their knobs
 * (pre-created, as the kernel would). v2: values, subtree_control of every ancestor,
 * cgroup.procs; v1: inheritance of empty values from the ancestors, tasks; detection of
 * v2, v1 and a hybrid host; the limits as settings; removal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/util.h"
#include "test.h"
#include "vmm/cgroup.h"

static char root[64];

static void put(const char *rel, const char *text)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        char *slash = strrchr(path, '/');
        *slash = 0;
        mkdir_p(path, 0755);
        *slash = '/';
        CHECK_EQ_INT(write_file(path, text, strlen(text), 0644), 0);
}

static char *get(const char *rel)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        char *text = NULL;
        if (read_file(path, 4096, &text, NULL) < 0)
                return strdup("(missing)");
        return text;
}

static void check_file(const char *rel, const char *want)
{
        _cleanup_free_ char *got = get(rel);
        CHECK_STR(got, want);
}

static void mounts(const char *text)
{
        put("mounts", text);
}

static const char *mounts_path(void)
{
        static char p[128];
        snprintf(p, sizeof(p), "%s/mounts", root);
        return p;
}

/* A v2 tree: root with cpu memory pids, "ember" below it, and the leaf "vm1" below that. */
static void test_v2(void)
{
        char m[512];
        snprintf(m, sizeof(m), "sysfs /sys sysfs rw 0 0\ncgroup2 %s/unified cgroup2 rw,nsdelegate 0 0\n", root);
        mounts(m);
        put("unified/cgroup.controllers", "cpuset cpu io memory pids\n");
        put("unified/cgroup.subtree_control", "");
        put("unified/ember/cgroup.subtree_control", "");
        const char *knobs[] = {"cpu.max", "memory.max", "pids.max", "cgroup.procs",
                               "cgroup.subtree_control"};
        for (size_t i = 0; i < ELEMENTSOF(knobs); i++) {
                char rel[128];
                snprintf(rel, sizeof(rel), "unified/ember/vm1/%s", knobs[i]);
                put(rel, "");
        }
        static const char *const want[] = {"cpu", "memory", "pids", NULL};
        CHECK_EQ_INT(cgroup_detect(mounts_path(), want), 2);

        CgroupFs fs;
        Err e = {0};
        CHECK_EQ_INT(cgroup_fs_load(mounts_path(), 2, &fs, &e), 0);
        CHECK_EQ_INT(cgroup_write(&fs, "ember", "vm1", "memory.max", "1048576", &e), 0);
        check_file("unified/ember/vm1/memory.max", "1048576\n");
        /* enabled top-down: the root, then the parent (the last write is what stays here) */
        check_file("unified/cgroup.subtree_control", "+memory\n");
        check_file("unified/ember/cgroup.subtree_control", "+memory\n");
        CHECK_EQ_INT(cgroup_write(&fs, "ember", "vm1", "cpu.max", "50000 100000", &e), 0);
        check_file("unified/ember/vm1/cpu.max", "50000 100000\n");
        check_file("unified/ember/cgroup.subtree_control", "+cpu\n");
        CHECK_EQ_INT(cgroup_attach(&fs, "ember", "vm1", "pids.max", 4242, &e), 0);
        check_file("unified/ember/vm1/cgroup.procs", "4242\n");
        /* a knob the kernel does not offer is an error, never a new file */
        CHECK(cgroup_write(&fs, "ember", "vm1", "memory.nonsense", "1", &e) < 0);
        CHECK(strstr(e.msg, "memory.nonsense") != NULL);
        _cleanup_free_ char *dir = NULL;
        CHECK_EQ_INT(cgroup_dir(&fs, "memory", "ember", "vm1", &dir), 0);
        char want_dir[256];
        snprintf(want_dir, sizeof(want_dir), "%s/unified/ember/vm1", root);
        CHECK_STR(dir, want_dir);
        cgroup_fs_free(&fs);
        CHECK_EQ_INT(cgroup_fs_load(mounts_path(), 1, &fs, &e), -ENOENT); /* no v1 here */
        CHECK(strstr(e.msg, "No hierarchy found") != NULL);
}

/* A hybrid host (this one): v1 controllers, and a cgroup2 mount without controllers. */
static void test_v1(void)
{
        char m[1024];
        snprintf(m, sizeof(m),
                 "cgroup %s/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
                 "cgroup %s/memory cgroup rw,memory 0 0\n"
                 "cgroup %s/pids cgroup rw,pids 0 0\n"
                 "cgroup %s/systemd cgroup rw,name=systemd 0 0\n"
                 "cgroup2 %s/unified2 cgroup2 rw 0 0\n", root, root, root, root, root);
        mounts(m);
        put("unified2/cgroup.controllers", "\n");
        static const char *const want[] = {"cpu", "memory", "pids", NULL};
        CHECK_EQ_INT(cgroup_detect(mounts_path(), want), 1);
        static const char *const missing[] = {"cpu", "hugetlb", NULL};
        CHECK_EQ_INT(cgroup_detect(mounts_path(), missing), -ENOENT);

        /* the parent's value is empty: it inherits from the root first (Firecracker's
         * inherit_from_parent), then the leaf gets it, then ours */
        put("memory/memory.limit_in_bytes", "9223372036854771712\n");
        put("memory/ember/memory.limit_in_bytes", "");
        put("memory/ember/vm1/memory.limit_in_bytes", "");
        put("memory/ember/vm1/tasks", "");
        put("cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
        put("cpu,cpuacct/ember/cpu.cfs_quota_us", "-1\n");
        put("cpu,cpuacct/ember/vm1/cpu.cfs_quota_us", "");
        put("cpu,cpuacct/ember/vm1/tasks", "");
        CgroupFs fs;
        Err e = {0};
        CHECK_EQ_INT(cgroup_fs_load(mounts_path(), 1, &fs, &e), 0);
        CHECK_EQ_INT(fs.n_v1, 4);
        CHECK_EQ_INT(cgroup_write(&fs, "ember", "vm1", "memory.limit_in_bytes", "268435456", &e), 0);
        check_file("memory/ember/memory.limit_in_bytes", "9223372036854771712\n");
        check_file("memory/ember/vm1/memory.limit_in_bytes", "268435456\n");
        CHECK_EQ_INT(cgroup_write(&fs, "ember", "vm1", "cpu.cfs_quota_us", "50000", &e), 0);
        check_file("cpu,cpuacct/ember/vm1/cpu.cfs_quota_us", "50000\n");
        CHECK_EQ_INT(cgroup_attach(&fs, "ember", "vm1", "memory.limit_in_bytes", 77, &e), 0);
        check_file("memory/ember/vm1/tasks", "77\n");
        CHECK(cgroup_write(&fs, "ember", "vm1", "hugetlb.limit", "1", &e) < 0);
        CHECK(strstr(e.msg, "not available") != NULL);
        /* removal: a real cgroup dir has only kernel files; a fake one, emptied, goes too */
        char vm1[256];
        snprintf(vm1, sizeof(vm1), "%s/pids/ember/vm1", root);
        CHECK_EQ_INT(mkdir_p(vm1, 0755), 0);
        CHECK_EQ_INT(cgroup_remove(&fs, "ember", "vm1"), -ENOTEMPTY); /* memory's has files */
        CHECK(access(vm1, F_OK) < 0); /* pids' was empty: removed */
        cgroup_fs_free(&fs);
}

static void test_names_and_limits(void)
{
        char c[64];
        CHECK_EQ_INT(cgroup_controller_of("memory.max", c, sizeof(c)), 0);
        CHECK_STR(c, "memory");
        CHECK_EQ_INT(cgroup_controller_of("cpu.cfs_quota_us", c, sizeof(c)), 0);
        CHECK_STR(c, "cpu");
        CHECK_EQ_INT(cgroup_controller_of("nodot", c, sizeof(c)), -EINVAL);
        CHECK_EQ_INT(cgroup_controller_of("a.b.c", c, sizeof(c)), -EINVAL);
        CHECK_EQ_INT(cgroup_controller_of("../x.y", c, sizeof(c)), -EINVAL);
        CHECK(cgroup_parent_valid("ember"));
        CHECK(cgroup_parent_valid("a/b/c"));
        CHECK(!cgroup_parent_valid("/abs"));
        CHECK(!cgroup_parent_valid("a/../b"));
        CHECK(!cgroup_parent_valid("a/./b"));
        CHECK(!cgroup_parent_valid("a//b"));
        CHECK(!cgroup_parent_valid("a/"));
        CHECK(!cgroup_parent_valid(""));
        CgroupSetting s[8];
        CgroupLimits l = {.cpu_pct = 150, .memory_bytes = 1 << 20, .pids_max = 64};
        CHECK_EQ_INT(cgroup_limits_settings(2, &l, s, 8), 3);
        CHECK_STR(s[0].value, "150000 100000");
        CHECK_EQ_INT(cgroup_limits_settings(1, &l, s, 8), 4);
        CHECK_STR(s[0].file, "cpu.cfs_period_us");
        CHECK_STR(s[1].file, "cpu.cfs_quota_us");
        CHECK_STR(s[1].value, "150000");
        CHECK_STR(s[2].file, "memory.limit_in_bytes");
        CHECK_STR(s[3].file, "pids.max");
        l = (CgroupLimits){.pids_max = 8};
        CHECK_EQ_INT(cgroup_limits_settings(1, &l, s, 8), 1); /* zero limits are left out */
        Err e = {0};
        CgroupSetting one;
        CHECK_EQ_INT(cgroup_setting_parse("pids.max=10", &one, &e), 0);
        CHECK_STR(one.file, "pids.max");
        CHECK_STR(one.value, "10");
        CHECK(cgroup_setting_parse("pids.max=1=2", &one, &e) < 0);
        CHECK(cgroup_setting_parse("=1", &one, &e) < 0);
}

TEST_MAIN({
        snprintf(root, sizeof(root), "/tmp/ember-cgroup-test-XXXXXX");
        CHECK(mkdtemp(root) != NULL);
        test_v2();
        test_v1();
        test_names_and_limits();
        CHECK_EQ_INT(rm_rf(root), 0);
})
