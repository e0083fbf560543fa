/* test-parse.c — emberd-init's pure parsers: the kernel command line, sizes and ports, the
 * process-engine arguments, modules.order, the exec environment, the byte queue, cgroup
 * interface files. */
#include <errno.h>
#include <stdint.h>

#include "../test.h"
#include "agent.h"
#include "args.h"
#include "cgroup.h"
#include "cmdline.h"
#include "modules.h"
#include "queue.h"

static char notes[1024];
static void note(void *ud, const char *w)
{
        (*(int *)ud)++;
        strncat(notes, w, sizeof(notes) - strlen(notes) - 2);
        strcat(notes, ";");
}

static int parse(const char *line, InitConfig *c, int *n_notes)
{
        Err e = {0};
        cmdline_defaults(c);
        notes[0] = 0;
        *n_notes = 0;
        return cmdline_parse(line, c, note, n_notes, &e);
}

static void test_cmdline_defaults_and_keys(void)
{
        InitConfig c;
        int n;
        CHECK_EQ_INT(parse("", &c, &n), 0);
        CHECK_STR(c.root, "/dev/vda");
        CHECK_STR(c.rootfstype, "squashfs");
        CHECK_EQ_INT(c.port, 52);
        CHECK_EQ_INT(c.overlay_size, 256ull << 20);
        CHECK(!c.overlay_size_set); /* the boot step then picks half the memory */
        CHECK(!c.debug);
        /* what emberd actually builds */
        CHECK_EQ_INT(parse("console=ttyS0 reboot=k panic=1 ember.root=/dev/vdb ember.port=1024 "
                           "ember.overlay_size=512m ember.rootfstype=ext4 ember.debug=1 quiet",
                           &c, &n), 0);
        CHECK_STR(c.root, "/dev/vdb");
        CHECK_STR(c.rootfstype, "ext4");
        CHECK_EQ_INT(c.port, 1024);
        CHECK_EQ_INT(c.overlay_size, 512ull << 20);
        CHECK(c.overlay_size_set);
        CHECK(c.debug);
        CHECK_EQ_INT(n, 0); /* non-ember words are not even noted */
        CHECK_EQ_INT(parse("ember.root=none", &c, &n), 0);
        CHECK(cmdline_root_none(&c));
        CHECK_EQ_INT(parse("ember.debug", &c, &n), 0); /* a bare flag */
        CHECK(c.debug);
}

static void test_cmdline_words(void)
{
        InitConfig c;
        int n;
        /* blanks of any kind, a trailing newline as in /proc/cmdline */
        CHECK_EQ_INT(parse("  ember.port=7\t ember.root=/dev/vdc\n", &c, &n), 0);
        CHECK_EQ_INT(c.port, 7);
        CHECK_STR(c.root, "/dev/vdc");
        /* quotes: removed, and blanks inside them do not split (kernel semantics) */
        CHECK_EQ_INT(parse("foo=\"a b c\" ember.root=\"/dev/vdd\" \"ember.port=9\"", &c, &n), 0);
        CHECK_STR(c.root, "/dev/vdd");
        CHECK_EQ_INT(c.port, 9);
        CHECK_EQ_INT(parse("x=\"ember.port=1 ember.root=none\"", &c, &n), 0);
        CHECK_EQ_INT(c.port, 52);
        /* last occurrence wins */
        CHECK_EQ_INT(parse("ember.port=1 ember.port=2 ember.root=/dev/a ember.root=/dev/b", &c, &n), 0);
        CHECK_EQ_INT(c.port, 2);
        CHECK_STR(c.root, "/dev/b");
        /* unknown ember.* keys: noted and ignored */
        CHECK_EQ_INT(parse("ember.colour=blue ember.port=5 ember.future", &c, &n), 0);
        CHECK_EQ_INT(n, 2);
        CHECK_STR(notes, "ember.colour=blue;ember.future;");
        CHECK_EQ_INT(c.port, 5);
        /* "--": the rest belongs to init's argv */
        CHECK_EQ_INT(parse("ember.port=5 -- ember.port=6", &c, &n), 0);
        CHECK_EQ_INT(c.port, 5);
        CHECK_EQ_INT(parse("embers.port=x ember=1", &c, &n), 0);
        CHECK_EQ_INT(n, 0);
}

static void test_cmdline_malformed(void)
{
        static const char *const bad[] = {
                "ember.port=", "ember.port=0", "ember.port=-1", "ember.port=4294967295",
                "ember.port=99999999999", "ember.port=5x", "ember.port", "ember.overlay_size=",
                "ember.overlay_size=0", "ember.overlay_size=12q", "ember.overlay_size=m",
                "ember.overlay_size=-5m", "ember.overlay_size=2000g", "ember.root=",
                "ember.root=vda", "ember.root", "ember.rootfstype=", "ember.rootfstype=Squash/fs",
                "ember.debug=2", "ember.debug=yes",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                InitConfig c;
                Err e = {0};
                cmdline_defaults(&c);
                int r = cmdline_parse(bad[i], &c, NULL, NULL, &e);
                if (r != -EINVAL)
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                CHECK_EQ_INT(r, -EINVAL);
                CHECK(strstr(e.msg, "ember.") != NULL);
        }
        char *longline = malloc(CMDLINE_MAX + 10);
        memset(longline, 'a', CMDLINE_MAX + 9);
        longline[CMDLINE_MAX + 9] = 0;
        InitConfig c;
        Err e = {0};
        CHECK_EQ_INT(cmdline_parse(longline, &c, NULL, NULL, &e), -E2BIG);
        free(longline);
}

static void test_sizes_and_ports(void)
{
        uint64_t v;
        uint32_t p;
        CHECK_EQ_INT(parse_size("256m", &v), 0);
        CHECK_EQ_INT(v, 256ull << 20);
        CHECK_EQ_INT(parse_size("1G", &v), 0);
        CHECK_EQ_INT(v, 1ull << 30);
        CHECK_EQ_INT(parse_size("64K", &v), 0);
        CHECK_EQ_INT(v, 64ull << 10);
        CHECK_EQ_INT(parse_size("4096", &v), 0);
        CHECK_EQ_INT(v, 4096);
        CHECK_EQ_INT(parse_size("1024g", &v), 0); /* the 1 TiB bound itself */
        CHECK_EQ_INT(parse_size("1025g", &v), -EINVAL);
        CHECK_EQ_INT(parse_size("18446744073709551617", &v), -EINVAL);
        CHECK_EQ_INT(parse_size("1.5g", &v), -EINVAL);
        CHECK_EQ_INT(parse_size(" 1m", &v), -EINVAL);
        CHECK_EQ_INT(parse_size("1mm", &v), -EINVAL);
        CHECK_EQ_INT(parse_size("+1", &v), -EINVAL);
        CHECK_EQ_INT(parse_size("", &v), -EINVAL);
        CHECK_EQ_INT(parse_port("52", &p), 0);
        CHECK_EQ_INT(p, 52);
        CHECK_EQ_INT(parse_port("4294967294", &p), 0);
        CHECK_EQ_INT(p, 4294967294u);
        CHECK_EQ_INT(parse_port("0x34", &p), -EINVAL);
}

static void test_args(void)
{
        InitArgs a;
        Err e = {0};
        char *vm[] = {"init", "stray", "words", NULL};
        CHECK_EQ_INT(args_parse(3, vm, &a, &e), 0);
        CHECK(!a.process_engine);
        char *pe[] = {"emberd-init", "--process-engine", "--cmdline", "ember.root=/dev/vda ember.port=52",
                      "--agent-fd", "5", "--dev", "vda=7:3", "--dev=vdb=259:1048575", NULL};
        CHECK_EQ_INT(args_parse(9, pe, &a, &e), 0);
        CHECK(a.process_engine);
        CHECK_STR(a.cmdline, "ember.root=/dev/vda ember.port=52");
        CHECK_EQ_INT(a.agent_fd, 5);
        CHECK_EQ_INT(a.n_devs, 2);
        CHECK_STR(a.devs[0].name, "vda");
        CHECK_EQ_INT(a.devs[0].major, 7);
        CHECK_EQ_INT(a.devs[0].minor, 3);
        CHECK_STR(a.devs[1].name, "vdb");
        CHECK_EQ_INT(a.devs[1].minor, 1048575);
        char *missing[] = {"x", "--process-engine", "--agent-fd", "4", NULL};
        CHECK_EQ_INT(args_parse(4, missing, &a, &e), -EINVAL);
        CHECK(strstr(e.msg, "--cmdline") != NULL);
        char *unknown[] = {"x", "--process-engine", "--cmdline", "", "--agent-fd", "4", "--frob", NULL};
        CHECK_EQ_INT(args_parse(7, unknown, &a, &e), -EINVAL);
        char *lowfd[] = {"x", "--process-engine", "--cmdline", "", "--agent-fd", "1", NULL};
        CHECK_EQ_INT(args_parse(6, lowfd, &a, &e), -EINVAL);
        char *dup[] = {"x", "--process-engine", "--cmdline", "", "--agent-fd", "4", "--dev", "vda=1:1",
                       "--dev", "vda=1:2", NULL};
        CHECK_EQ_INT(args_parse(10, dup, &a, &e), -EINVAL);
        char *novalue[] = {"x", "--process-engine", "--cmdline", NULL};
        CHECK_EQ_INT(args_parse(3, novalue, &a, &e), -EINVAL);
        static const char *const bad_devs[] = {"vda", "=1:2", "vda=", "vda=1", "vda=1:", "vda=:1",
                                               "../x=1:2", "VDA=1:2", "vda=4096:0", "vda=1:1048576",
                                               "averyveryverylongname=1:1"};
        for (size_t i = 0; i < ELEMENTSOF(bad_devs); i++) {
                InitDev d;
                CHECK_EQ_INT(args_parse_dev(bad_devs[i], &d), -EINVAL);
        }
}

static void test_modules_order(void)
{
        const char *names[8];
        size_t n;
        Err e = {0};
        char text[] = "virtio_ring.ko\n\n# comment\n  virtio.ko \r\nkernel/fs/squashfs/squashfs.ko\nlast.ko";
        CHECK_EQ_INT(modules_order_parse(text, names, 8, &n, &e), 0);
        CHECK_EQ_INT(n, 4);
        CHECK_STR(names[0], "virtio_ring.ko");
        CHECK_STR(names[1], "virtio.ko");
        CHECK_STR(names[2], "kernel/fs/squashfs/squashfs.ko");
        CHECK_STR(names[3], "last.ko");
        char empty[] = "";
        CHECK_EQ_INT(modules_order_parse(empty, names, 8, &n, &e), 0);
        CHECK_EQ_INT(n, 0);
        char abs[] = "a.ko\n/lib/x.ko\n";
        CHECK_EQ_INT(modules_order_parse(abs, names, 8, &n, &e), -EINVAL);
        CHECK(strstr(e.msg, "line 2") != NULL);
        char dots[] = "a/../../x.ko\n";
        CHECK_EQ_INT(modules_order_parse(dots, names, 8, &n, &e), -EINVAL);
        char dots2[] = "..\n";
        CHECK_EQ_INT(modules_order_parse(dots2, names, 8, &n, &e), -EINVAL);
        char okdots[] = "a..b.ko\n";
        CHECK_EQ_INT(modules_order_parse(okdots, names, 8, &n, &e), 0);
        char many[] = "a\nb\nc\n";
        CHECK_EQ_INT(modules_order_parse(many, names, 2, &n, &e), -E2BIG);
}

static void test_env(void)
{
        const char *reqenv[] = {"FOO=bar baz", "PATH=/opt/bin", "A=1", "A=2", "EMPTY=", NULL};
        ProtoExec x = {.env = reqenv, .envc = 5};
        const char **env;
        CHECK_EQ_INT(exec_build_env(&x, &env), 0);
        CHECK_STR(env[0], "PATH=/opt/bin");
        CHECK_STR(env[1], "HOME=/root");
        CHECK_STR(env[2], "LANG=C.UTF-8");
        CHECK_STR(env[3], "FOO=bar baz");
        CHECK_STR(env[4], "A=2");
        CHECK_STR(env[5], "EMPTY=");
        CHECK(env[6] == NULL);
        free(env);
        ProtoExec none = {0};
        CHECK_EQ_INT(exec_build_env(&none, &env), 0);
        CHECK_STR(env[0], "PATH=" AGENT_DEFAULT_PATH);
        CHECK(env[3] == NULL);
        free(env);
}

static void test_queue(void)
{
        Queue q;
        queue_init(&q, 10000);
        uint8_t buf[6000];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)i;
        CHECK_EQ_INT(queue_push(&q, buf, 6000), 0);
        CHECK_EQ_INT(queue_push(&q, buf, 6000), -ENOBUFS);
        CHECK_EQ_INT(queue_room(&q), 4000);
        queue_pop(&q, 5000);
        CHECK_EQ_INT(q.len, 1000);
        CHECK_EQ_INT(queue_head(&q)[0], (uint8_t)5000);
        CHECK_EQ_INT(queue_push(&q, buf, 6000), 0); /* compacts instead of growing past max */
        CHECK(q.alloc <= 10000);
        CHECK_EQ_INT(queue_head(&q)[999], (uint8_t)5999);
        CHECK_EQ_INT(queue_head(&q)[1000], 0);
        queue_pop(&q, 100000);
        CHECK_EQ_INT(q.len, 0);
        queue_free(&q);
}

static void test_cgroup_files(void)
{
        static const char cpu[] = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
        static const char events[] = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        uint64_t v = 0;
        CHECK_EQ_INT(cgroup_keyed(cpu, "usage_usec", &v), 0);
        CHECK_EQ_INT(v, 123456);
        CHECK_EQ_INT(cgroup_keyed(cpu, "system_usec", &v), 0);
        CHECK_EQ_INT(v, 23456);
        CHECK_EQ_INT(cgroup_keyed(cpu, "usage", &v), -ENOENT); /* a prefix is not a key */
        CHECK_EQ_INT(cgroup_keyed(events, "oom", &v), 0);
        CHECK_EQ_INT(v, 1);
        CHECK_EQ_INT(cgroup_keyed(events, "oom_kill", &v), 0);
        CHECK_EQ_INT(v, 1);
        CHECK_EQ_INT(cgroup_keyed(events, "max", &v), 0);
        CHECK_EQ_INT(v, 12);
        CHECK_EQ_INT(cgroup_keyed("populated 0", "populated", &v), 0); /* no final newline */
        CHECK_EQ_INT(v, 0);
        CHECK_EQ_INT(cgroup_keyed("", "max", &v), -ENOENT);
        CHECK_EQ_INT(cgroup_keyed("max x\n", "max", &v), -EBADMSG);
        CHECK_EQ_INT(cgroup_keyed("max 1x\n", "max", &v), -EBADMSG);
        CHECK_EQ_INT(cgroup_keyed("max 99999999999999999999999\n", "max", &v), -EBADMSG);

        CHECK(cgroup_has_word("cpuset cpu io memory hugetlb pids rdma misc\n", "cpu"));
        CHECK(cgroup_has_word("cpuset cpu io memory pids\n", "pids"));
        CHECK(cgroup_has_word("memory", "memory"));
        CHECK(!cgroup_has_word("cpuset io", "cpu"));
        CHECK(!cgroup_has_word("mem memoryx", "memory"));
        CHECK(!cgroup_has_word("", "memory"));
        CHECK(!cgroup_has_word("memory", ""));

        char path[64];
        CHECK_EQ_INT(cgroup_v2_path("0::/\n", path, sizeof(path)), 0);
        CHECK_STR(path, "/");
        CHECK_EQ_INT(cgroup_v2_path("12:pids:/a\n4:memory:/x/y\n0::/user.slice/s.scope\n", path, sizeof(path)), 0);
        CHECK_STR(path, "/user.slice/s.scope");
        CHECK_EQ_INT(cgroup_v2_path("4:memory:/x\n", path, sizeof(path)), -ENOENT); /* v1 only */
        CHECK_EQ_INT(cgroup_v2_path("0::\n", path, sizeof(path)), -EBADMSG);
        CHECK_EQ_INT(cgroup_v2_path("0::/a/very/long/path/beyond/the/buffer/given/here/for/sure/yes", path, 16),
                     -EBADMSG);
}

TEST_MAIN({
        test_cmdline_defaults_and_keys();
        test_cmdline_words();
        test_cmdline_malformed();
        test_sizes_and_ports();
        test_args();
        test_modules_order();
        test_env();
        test_queue();
        test_cgroup_files();
})
