/* test-api-config.c — emberd's configuration: defaults, a good config file, unknown keys
 * and bad types (errors name the key), flags overriding the file, --listen replacing the
 * list, the computed defaults, and --help listing every option of the table. */
#include <stdarg.h>

#include "../test.h"
#include "daemon/config.h"
#include "shared/log.h"

#define CHECK_MSG(e, sub)                                                                          \
        do {                                                                                       \
                CHECK(strstr((e).msg, sub) != NULL);                                               \
                if (!strstr((e).msg, sub))                                                         \
                        fprintf(stderr, "  message was: %s\n", (e).msg);                           \
        } while (0)

static void test_defaults(void)
{
        Config c;
        Err e = {0};
        CHECK_EQ_INT(config_init(&c, &e), 0);
        CHECK_EQ_INT(config_finish(&c, &e), 0);
        Settings *s = &c.settings;
        CHECK_STR(s->state_dir, "/var/lib/ember");
        CHECK_STR(s->images_dir, "/var/lib/ember/images");
        CHECK_EQ_INT(s->vmm, VMM_AUTO);
        CHECK_STR(s->kernel, "vmlinux");
        CHECK_STR(s->initrd, "initramfs.img");
        CHECK_STR(s->boot_args, "");
        CHECK_EQ_INT(s->max_sandboxes, 64);
        CHECK_EQ_INT(s->max_vcpus, 4);
        CHECK_EQ_INT(s->max_memory_mib, 2048);
        CHECK_EQ_INT(s->default_ttl_s, 0);
        CHECK_EQ_INT(s->max_ttl_s, 86400);
        CHECK_EQ_INT(s->agent_port, 52);
        CHECK_EQ_INT(s->boot_timeout_ms, 30000);
        CHECK_EQ_INT(s->output_cap, 1024 * 1024);
        CHECK_EQ_INT(s->default_memory_limit_mib, 0);
        CHECK_EQ_INT(s->max_memory_limit_mib, 0);
        CHECK_EQ_INT(s->default_pids_limit, 256);
        CHECK_EQ_INT(s->max_pids_limit, 4096);
        CHECK_EQ_INT(c.max_body_bytes, 8 * 1024 * 1024);
        CHECK_EQ_INT(c.log_level, LOG_INFO);
        CHECK(s->firecracker_bin && *s->firecracker_bin);
        CHECK(s->vmm_bin && strstr(s->vmm_bin, "/ember-vmm"));
        CHECK_EQ_INT(s->n_packs, 3);
        if (s->n_packs == 3) {
                CHECK_STR(s->packs[0].name, "python");
                CHECK_STR(s->packs[0].rootfs, "python.squashfs");
                CHECK_STR(s->packs[0].interpreter[0], "python3");
                CHECK(s->packs[0].interpreter[1] == NULL);
                CHECK_STR(s->packs[0].code_file, "main.py");
                CHECK_EQ_INT(s->packs[0].memory_mib, 256);
                CHECK_STR(s->packs[1].name, "shell");
                CHECK_STR(s->packs[1].interpreter[0], "sh");
                CHECK_EQ_INT(s->packs[1].memory_mib, 128);
                CHECK_STR(s->packs[2].name, "node");
                CHECK_STR(s->packs[2].code_file, "main.js");
                CHECK_EQ_INT(s->packs[2].memory_mib, 512);
        }
        /* TCP only with a token or --allow-insecure-tcp (src/daemon/config.c finish_listen) */
        CHECK_EQ_INT(c.n_listen, 1);
        if (c.n_listen == 1)
                CHECK_STR(c.listen[0], "unix:/var/lib/ember/emberd.sock");
        config_free(&c);
}

static const char good[] =
        "{\"state_dir\": \"/tmp/st\", \"vmm\": \"process\", \"kernel\": \"k\", \"max_sandboxes\": 5,"
        " \"max_vcpus\": 8, \"output_cap\": 4096, \"max_body_bytes\": 65536,"
        " \"listen\": [\"unix:/tmp/a.sock\", \"[::1]:0\"], \"allow_insecure_tcp\": true,"
        " \"log_level\": \"debug\","
        " \"firecracker_bin\": \"/opt/fc\", \"vmm_bin\": \"/opt/ember-vmm\","
        " \"language_packs\": [{\"name\": \"py\", \"rootfs\": \"/x/py.sqfs\","
        "   \"interpreter\": [\"python3\", \"-u\"], \"code_file\": \"m.py\", \"vcpus\": 2,"
        "   \"memory_mib\": 64}]}";

static void test_good_file(void)
{
        Config c;
        Err e = {0};
        CHECK_EQ_INT(config_init(&c, &e), 0);
        CHECK_EQ_INT(config_apply_json(&c, good, strlen(good), "test.json", &e), 0);
        CHECK_EQ_INT(config_finish(&c, &e), 0);
        Settings *s = &c.settings;
        CHECK_STR(s->state_dir, "/tmp/st");
        CHECK_EQ_INT(s->vmm, VMM_PROCESS);
        CHECK_STR(s->kernel, "k");
        CHECK_EQ_INT(s->max_sandboxes, 5);
        CHECK_EQ_INT(s->output_cap, 4096);
        CHECK_EQ_INT(c.max_body_bytes, 65536);
        CHECK_EQ_INT(c.log_level, LOG_DEBUG);
        CHECK_STR(s->firecracker_bin, "/opt/fc");
        CHECK_STR(s->vmm_bin, "/opt/ember-vmm");
        CHECK_EQ_INT(c.n_listen, 2);
        CHECK_EQ_INT(s->n_packs, 1);
        if (s->n_packs == 1) {
                CHECK_STR(s->packs[0].interpreter[1], "-u");
                CHECK_EQ_INT(s->packs[0].vcpus, 2);
                CHECK_STR(s->packs[0].description, "");
        }
        config_free(&c);
}

static void test_bad_files(void)
{
        static const struct {
                const char *json, *sub;
        } bad[] = {
                {"{\"stat_dir\": \"/x\"}", "unknown key \"stat_dir\""},
                {"{\"max_sandboxes\": \"5\"}", "max_sandboxes must be an integer"},
                {"{\"max_sandboxes\": 0}", "max_sandboxes must be an integer between 1"},
                {"{\"max_sandboxes\": -3}", "max_sandboxes"},
                {"{\"state_dir\": 7}", "state_dir must be a string"},
                {"{\"vmm\": \"kvm\"}", "vmm must be one of auto, firecracker, qemu, process"},
                {"{\"vmm\": 1}", "vmm must be a string"},
                {"{\"listen\": \"127.0.0.1:1\"}", "listen must be an array"},
                {"{\"listen\": [1]}", "listen must be an array"},
                {"{\"log_level\": \"loud\"}", "log_level must be one of"},
                {"{\"language_packs\": []}", "language_packs must be an array of 1 to 64"},
                {"{\"language_packs\": [{\"name\": \"a\"}]}", "language_packs[0]: rootfs is required"},
                {"{\"language_packs\": [{\"name\": \"a\", \"rootfs\": \"r\", \"interpreter\": [\"x\"],"
                 " \"code_file\": \"c\", \"colour\": 1}]}",
                 "language_packs[0]: unknown field \"colour\""},
                {"{\"language_packs\": [{\"name\": \"a\", \"rootfs\": \"r\", \"interpreter\": \"x\","
                 " \"code_file\": \"c\"}]}",
                 "interpreter must be an array"},
                {"{\"language_packs\": [{\"name\": \"a\", \"rootfs\": \"r\", \"interpreter\": [\"x\"],"
                 " \"code_file\": \"d/c\"}]}",
                 "code_file must be a file name"},
                {"{\"language_packs\": [{\"name\": \"a\", \"rootfs\": \"r\", \"interpreter\": [\"x\"],"
                 " \"code_file\": \"c\"}, {\"name\": \"a\", \"rootfs\": \"r\", \"interpreter\": [\"x\"],"
                 " \"code_file\": \"c\"}]}",
                 "\"a\" appears twice"},
                {"{\"kernel\": \"a\", \"kernel\": \"b\"}", "duplicate"},
                {"[1]", "must be a JSON object"},
                {"{\"kernel\": ", "invalid JSON at line 1"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Config c;
                Err e = {0};
                CHECK_EQ_INT(config_init(&c, &e), 0);
                int r = config_apply_json(&c, bad[i].json, strlen(bad[i].json), "x.json", &e);
                CHECK(r < 0);
                CHECK_MSG(e, bad[i].sub);
                CHECK(strncmp(e.msg, "x.json", 6) == 0); /* names the file */
                config_free(&c);
        }
        /* cross-key checks happen in finish */
        Config c;
        Err e = {0};
        const char *big = "{\"max_vcpus\": 1, \"language_packs\": [{\"name\": \"a\", \"rootfs\": "
                          "\"r\", \"interpreter\": [\"x\"], \"code_file\": \"c\", \"vcpus\": 2}]}";
        CHECK_EQ_INT(config_init(&c, &e), 0);
        CHECK_EQ_INT(config_apply_json(&c, big, strlen(big), "x", &e), 0);
        CHECK(config_finish(&c, &e) < 0);
        CHECK_MSG(e, "language pack \"a\"");
        config_free(&c);
}

static int parse(Config *c, Err *e, ...)
{
        char *argv[32] = {"emberd"};
        int argc = 1;
        va_list ap;
        va_start(ap, e);
        for (char *a; argc < 31 && (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        return config_parse(c, argc, argv, e);
}

static void test_flags(void)
{
        char path[] = "/tmp/ember-config-test-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        const char *file = "{\"max_sandboxes\": 5, \"kernel\": \"fromfile\", \"listen\": "
                           "[\"127.0.0.1:1\"], \"vmm\": \"qemu\"}";
        CHECK_EQ_INT(write(fd, file, strlen(file)), (long)strlen(file));
        close(fd);

        Config c;
        Err e = {0};
        CHECK_EQ_INT(parse(&c, &e, "--max-sandboxes", "9", "--config", path, "--listen=unix:/tmp/q",
                           "--listen", "127.0.0.1:0", "--vmm", "process", "--allow-insecure-tcp", NULL),
                     0);
        CHECK_EQ_INT(c.settings.max_sandboxes, 9);     /* flag beats file, whatever the order */
        CHECK_STR(c.settings.kernel, "fromfile");      /* file beats default */
        CHECK_EQ_INT(c.settings.vmm, VMM_PROCESS);
        CHECK_EQ_INT(c.n_listen, 2);                   /* flags replace the file's list */
        if (c.n_listen == 2)
                CHECK_STR(c.listen[0], "unix:/tmp/q");
        config_free(&c);

        CHECK_EQ_INT(parse(&c, &e, "--state-dir", "/srv/e", NULL), 0);
        CHECK_STR(c.listen[0], "unix:/srv/e/emberd.sock");
        config_free(&c);

        CHECK(parse(&c, &e, "--bogus", NULL) < 0);
        CHECK_MSG(e, "unknown option --bogus");
        config_free(&c);
        CHECK(parse(&c, &e, "--state-dir", NULL) < 0);
        CHECK_MSG(e, "--state-dir needs a value");
        config_free(&c);
        CHECK(parse(&c, &e, "--max-sandboxes", "lots", NULL) < 0);
        CHECK_MSG(e, "max_sandboxes must be an integer");
        config_free(&c);
        CHECK(parse(&c, &e, "--listen", "nonsense", NULL) < 0);
        CHECK_MSG(e, "bad listen address");
        config_free(&c);
        CHECK(parse(&c, &e, "--listen", "0.0.0.0:8080", NULL) < 0);
        CHECK_MSG(e, "needs a bearer token");
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--listen", "0.0.0.0:8080", "--token-file", "/t", NULL), 0);
        config_free(&c);
        /* loopback TCP: a token, or the explicit exception; never the exception beyond it */
        CHECK(parse(&c, &e, "--listen", "127.0.0.1:8080", NULL) < 0);
        CHECK_MSG(e, "--allow-insecure-tcp");
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--listen", "127.0.0.1:8080", "--allow-insecure-tcp", NULL), 0);
        config_free(&c);
        CHECK(parse(&c, &e, "--listen", "0.0.0.0:8080", "--allow-insecure-tcp", NULL) < 0);
        CHECK_MSG(e, "not loopback");
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--token-file", "/t", NULL), 0); /* default TCP with a token */
        CHECK_EQ_INT(c.n_listen, 2);
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--socket-mode", "0600", "--socket-group", "0", "--jailer-bin",
                           "none", "--cgroup-version", "2", NULL), 0);
        CHECK_EQ_INT(c.socket_mode, 0600);
        CHECK_EQ_INT(c.settings.cgroup_version, 2);
        CHECK_STR(c.settings.jailer_bin, "none");
        config_free(&c);
        CHECK(parse(&c, &e, "--socket-mode", "0999", NULL) < 0);
        CHECK_MSG(e, "octal");
        config_free(&c);
        CHECK(parse(&c, &e, "--cgroup-version", "3", NULL) < 0);
        CHECK_MSG(e, "cgroup_version must be one of auto, none, 1, 2");
        config_free(&c);
        CHECK(parse(&c, &e, "--help=yes", NULL) < 0);
        config_free(&c);
        CHECK(parse(&c, &e, "positional", NULL) < 0);
        config_free(&c);
        CHECK(parse(&c, &e, "--config", "/nonexistent/ember.json", NULL) < 0);
        CHECK_MSG(e, "/nonexistent/ember.json");
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--help", "--bogus-ignored-after?", NULL) < 0, 1);
        config_free(&c);
        CHECK_EQ_INT(parse(&c, &e, "--config", "/nonexistent", "--version", NULL), 0);
        CHECK(c.version); /* --version does not load the file */
        config_free(&c);
        unlink(path);
}

static void test_exec_limits(void)
{
        static const char limits[] = "{\"default_memory_limit_mib\": 128, \"max_memory_limit_mib\": 512,"
                                     " \"default_pids_limit\": 64, \"max_pids_limit\": 0}";
        Config c;
        Err e = {0};
        CHECK_EQ_INT(config_init(&c, &e), 0);
        CHECK_EQ_INT(config_apply_json(&c, limits, strlen(limits), "l.json", &e), 0);
        CHECK_EQ_INT(config_finish(&c, &e), 0);
        CHECK_EQ_INT(c.settings.default_memory_limit_mib, 128);
        CHECK_EQ_INT(c.settings.max_memory_limit_mib, 512);
        CHECK_EQ_INT(c.settings.default_pids_limit, 64);
        CHECK_EQ_INT(c.settings.max_pids_limit, 0);
        config_free(&c);

        static const struct {
                const char *json, *sub;
        } bad[] = {
                {"{\"default_pids_limit\": 5000}", "default_pids_limit 5000 exceeds max_pids_limit 4096"},
                {"{\"default_memory_limit_mib\": 64, \"max_memory_limit_mib\": 32}",
                 "default_memory_limit_mib 64 exceeds max_memory_limit_mib 32"},
                {"{\"max_pids_limit\": 5000000}", "max_pids_limit must be an integer between 0 and 4194304"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CHECK_EQ_INT(config_init(&c, &e), 0);
                int r = config_apply_json(&c, bad[i].json, strlen(bad[i].json), "x.json", &e);
                if (r >= 0)
                        r = config_finish(&c, &e);
                CHECK_EQ_INT(r, -EINVAL);
                CHECK(strstr(e.msg, bad[i].sub) != NULL);
                if (!strstr(e.msg, bad[i].sub))
                        fprintf(stderr, "  got \"%s\", want \"%s\"\n", e.msg, bad[i].sub);
                config_free(&c);
        }
}

static void test_help(void)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        config_print_help(f, "emberd");
        fclose(f);
        static const char *must[] = {"--listen ADDR", "--state-dir DIR", "--images-dir DIR",
                                     "--vmm KIND", "--firecracker-bin PATH", "--vmm-bin PATH",
                                     "--config FILE", "--token-file FILE", "--max-sandboxes N",
                                     "--log-level LEVEL", "--help", "--version", "language_packs",
                                     "max_ttl_s", "agent_port", "boot_timeout_ms", "output_cap",
                                     "max_body_bytes", "boot_args", "initrd", "kernel",
                                     "--default-pids-limit N", "max_memory_limit_mib",
                                     "python.squashfs", "node"};
        for (size_t i = 0; i < ELEMENTSOF(must); i++) {
                CHECK(strstr(text, must[i]) != NULL);
                if (!strstr(text, must[i]))
                        fprintf(stderr, "  --help lacks %s\n", must[i]);
        }
        free(text);
}

TEST_MAIN({
        test_defaults();
        test_good_file();
        test_bad_files();
        test_flags();
        test_exec_limits();
        test_help();
})
