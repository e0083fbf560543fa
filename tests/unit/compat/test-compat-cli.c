/* test-compat-cli.c — ember-vmm's command-line table: both option spellings, flags, the
 * argument-parser faults, and Firecracker's instance-id rule. */
#include <errno.h>
#include <string.h>

#include "shared/util.h"
#include "compat/cli.h"
#include "compat/engine.h"
#include "shared/cleanup.h"
#include "test.h"

static int parse(const char *const *args, CliOptions *o, Err *e)
{
        char *argv[16] = {"ember-vmm"};
        int argc = 1;
        for (; args[argc - 1]; argc++)
                argv[argc] = (char *)args[argc - 1];
        return cli_parse(argc, argv, o, e);
}

static void test_good(void)
{
        CliOptions o;
        Err e = {0};
        const char *a1[] = {"--api-sock", "/run/x.sock", "--id=vm-1", "--boot-timer",
                            "--engine", "process", "--init=/bin/init", "--level", "debug", NULL};
        CHECK(parse(a1, &o, &e) == 0);
        CHECK_STR(o.api_sock, "/run/x.sock");
        CHECK_STR(o.id, "vm-1");
        CHECK_STR(o.engine, "process");
        CHECK_STR(o.init, "/bin/init");
        CHECK_STR(o.level, "debug");
        CHECK(o.boot_timer && !o.version && !o.help && !o.log_path);
        const char *a2[] = {NULL};
        CHECK(parse(a2, &o, &e) == 0);
        CHECK_STR(o.id, "anonymous-instance"); /* Firecracker's default */
        CHECK_STR(o.engine, "process");
        CHECK(o.api_sock == NULL);
}

static void test_bad(void)
{
        static const struct {
                const char *args[5];
                const char *fault;
        } cases[] = {
                {{"api-sock", NULL}, "Found argument 'api-sock' which wasn't expected"},
                {{"--nope", NULL}, "Found argument '--nope' which wasn't expected"},
                {{"--api-sock", NULL}, "The argument 'api-sock' requires a value"},
                {{"--api-sock", "--id", "x", NULL}, "The argument 'api-sock' requires a value"},
                {{"--id", "a", "--id=b", NULL}, "The argument 'id' was provided more than once."},
                {{"--version=1", NULL}, "The argument 'version' does not take a value."},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CliOptions o;
                Err e = {0};
                CHECK_EQ_INT(parse(cases[i].args, &o, &e), -EINVAL);
                CHECK(strstr(e.msg, cases[i].fault) != NULL);
        }
}

static void test_ids(void)
{
        char id65[66];
        memset(id65, 'a', 65);
        id65[65] = 0;
        CHECK(instance_id_valid("anonymous-instance"));
        CHECK(instance_id_valid("A-9"));
        CHECK(instance_id_valid(id65 + 1)); /* 64 */
        CHECK(!instance_id_valid(id65));
        CHECK(!instance_id_valid(""));
        CHECK(!instance_id_valid("a_b"));
        CHECK(!instance_id_valid("a b"));
        CHECK(!instance_id_valid("a/b"));
}

static void test_engines(void)
{
        bool known;
        CHECK(engine_find("process", &known) == &engine_process_ops && known);
        CHECK(engine_find("qemu", &known) == &engine_qemu_ops && known);
        CHECK(engine_find("kvm", &known) == NULL && !known);
}

TEST_MAIN({
        test_good();
        test_bad();
        test_ids();
        test_engines();
})
