/* test-recovery.c — sandbox records and restart recovery against fake-vmm.py (the manager's
 * stand-in VMM): record_read() refuses every partial, corrupt or foreign record; a manager
 * in a child process that dies without any cleanup (as emberd under kill -9) leaves VMMs
 * that the next manager re-adopts — same ids, times and env, exec and delete work — or, when
 * they cannot be, kills and removes; nothing is left. The test is a child subreaper, so the
 * orphaned VMMs come back to it and no_children() means what it says. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "sandbox/manager.h"
#include "sandbox/record.h"
#include "shared/util.h"

#define ID "sb-0123456789abcdef"

static char tmp[64];
static char *shell_interp[] = {"sh", NULL};
static Pack packs[] = {{.name = "shell", .interpreter = shell_interp, .code_file = "main.sh"}};

static Settings settings(void)
{
        return (Settings){
                .state_dir = tmp,
                .images_dir = tmp,
                .vmm = VMM_PROCESS,
                .vmm_bin = getenv("FAKE_VMM"),
                .kernel = "vmlinux",
                .packs = packs,
                .n_packs = ELEMENTSOF(packs),
                .max_sandboxes = 8,
                .max_ttl_s = 3600,
                .agent_port = 52,
                .boot_timeout_ms = 10000,
                .output_cap = 4096,
        };
}

static int leftovers(void)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/sandboxes", tmp);
        DIR *d = opendir(path);
        int n = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

/* Reaps what has exited; true once no child (own or orphan) is left at all. */
static bool no_children(void)
{
        for (int i = 0; i < 300; i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

/* ---- record_read ---- */

static json_t *valid_record(void)
{
        return json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, "
                         "s:[s], s:{s:i, s:I, s:b}}",
                         "version", 1, "id", ID, "language_pack", "shell", "vmm", "process",
                         "state", "ready", "vcpus", 1, "memory_mib", 128, "ttl_s", 60,
                         "agent_port", 52, "boot_ms", 5, "ready_ms", 9, "created_at_ms",
                         (json_int_t)1700000000000, "expires_at_ms", (json_int_t)1700000060000,
                         "env", "A=1", "vm", "pid", 1234, "start_time", (json_int_t)99,
                         "started", 1);
}

static int read_variant(const char *dir, json_t *rec, const char *raw)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/" RECORD_FILE, dir);
        char *text = raw ? strdup(raw) : json_dumps(rec, JSON_COMPACT);
        write_file(path, text, strlen(text), 0600);
        free(text);
        json_decref(rec);
        SandboxRecord r;
        Err e = {0};
        int k = record_read(dir, ID, &r, &e);
        record_clear(&r);
        return k;
}

static void test_record_read(void)
{
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/sandboxes/" ID, tmp);
        CHECK_EQ_INT(mkdir_p(dir, 0700), 0);
        SandboxRecord r;
        Err e = {0};
        CHECK_EQ_INT(record_read(dir, ID, &r, &e), -ENOENT);
        CHECK_EQ_INT(read_variant(dir, valid_record(), NULL), 0);
        CHECK_EQ_INT(record_read(dir, ID, &r, &e), 0);
        CHECK_STR(r.pack, "shell");
        CHECK_EQ_INT(r.state, SANDBOX_READY);
        CHECK_EQ_INT(r.expires_at_ms, 1700000060000);
        CHECK_STR(r.env[0], "A=1");
        CHECK(r.env[1] == NULL);
        CHECK_EQ_INT(json_integer_value(json_object_get(r.vm, "pid")), 1234);
        record_clear(&r);

        static const char *const fields[] = {"version", "id", "language_pack", "vmm", "state",
                                             "vcpus", "memory_mib", "ttl_s", "agent_port",
                                             "boot_ms", "ready_ms", "created_at_ms",
                                             "expires_at_ms", "env", "vm"};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) { /* each one is required */
                json_t *rec = valid_record();
                json_object_del(rec, fields[i]);
                CHECK_EQ_INT(read_variant(dir, rec, NULL), -EBADMSG);
        }
        static const struct {
                const char *key, *json;
        } bad[] = {
                {"version", "2"},        {"id", "\"sb-fedcba9876543210\""}, {"state", "\"deleting\""},
                {"vcpus", "-1"},         {"vcpus", "\"1\""},        {"memory_mib", "1.5"},
                {"created_at_ms", "-5"}, {"env", "[\"NOEQUALS\"]"}, {"env", "[\"=x\"]"},
                {"env", "\"A=1\""},      {"vm", "[]"},              {"language_pack", "\"\""},
                {"surprise", "1"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *rec = valid_record();
                json_object_set_new(rec, bad[i].key, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
                CHECK_EQ_INT(read_variant(dir, rec, NULL), -EBADMSG);
        }
        json_t *whole = valid_record();
        char *full = json_dumps(whole, JSON_COMPACT);
        json_decref(whole);
        full[strlen(full) / 2] = 0; /* torn by a crash */
        CHECK_EQ_INT(read_variant(dir, NULL, full), -EBADMSG);
        free(full);
        CHECK_EQ_INT(read_variant(dir, NULL, "[]"), -EBADMSG);
        CHECK_EQ_INT(read_variant(dir, NULL, ""), -EBADMSG);
        CHECK_EQ_INT(read_variant(dir, NULL, "{\"version\":1,\"version\":1}"), -EBADMSG);
        CHECK_EQ_INT(rm_rf(dir), 0);

        CHECK(record_id_valid(ID));
        CHECK(!record_id_valid("sb-0123456789ABCDEF"));
        CHECK(!record_id_valid("sb-0123456789abcde"));
        CHECK(!record_id_valid("sb-0123456789abcdef0"));
        CHECK(!record_id_valid("xx-0123456789abcdef"));
        CHECK(!record_id_valid("sb-decoy"));
}

/* ---- a manager that dies, and the next one ---- */

typedef struct Made {
        char ids[3][SANDBOX_ID_MAX];
        int64_t created[3], expires[3];
} Made;

/* In a child: n sandboxes (the first with env and a TTL), an exec, then _exit() with no
 * cleanup at all. What it made comes back through a pipe. */
static bool crash_after_creating(int n, Made *ret)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return false;
        pid_t pid = fork();
        if (pid == 0) {
                Settings s = settings();
                Manager *m = NULL;
                Err e = {0};
                Made made = {0};
                const char *env[] = {"GREETING=hi", NULL};
                bool ok = manager_new(&s, &m, &e) >= 0;
                for (int i = 0; ok && i < n; i++) {
                        SandboxSpec spec = {.language_pack = "shell", .env = i ? NULL : env,
                                            .ttl_s = i ? 0 : 600, .ttl_set = i == 0};
                        SandboxInfo info;
                        ok = manager_create(m, &spec, &info, &e) >= 0;
                        snprintf(made.ids[i], SANDBOX_ID_MAX, "%s", info.id);
                        made.created[i] = info.created_at_ms;
                        made.expires[i] = info.expires_at_ms;
                }
                ok = ok && write(p[1], &made, sizeof(made)) == (ssize_t)sizeof(made);
                _exit(ok ? 0 : 1); /* like kill -9: no manager_free(), no teardown */
        }
        close(p[1]);
        bool ok = read(p[0], ret, sizeof(*ret)) == (ssize_t)sizeof(*ret);
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_readoption(void)
{
        Made made;
        CHECK(crash_after_creating(2, &made));
        CHECK_EQ_INT(leftovers(), 2);
        Settings s = settings();
        Manager *m = NULL;
        Err e = {0};
        CHECK_EQ_INT(manager_new(&s, &m, &e), 0);
        SandboxInfo *list = NULL;
        size_t n = 0;
        CHECK_EQ_INT(manager_list(m, &list, &n), 0);
        CHECK_EQ_INT(n, 2);
        free(list);
        for (int i = 0; i < 2; i++) {
                SandboxInfo info;
                CHECK_EQ_INT(manager_get(m, made.ids[i], &info, &e), 0);
                CHECK_STR(info.state, "ready");
                CHECK_EQ_INT(info.created_at_ms, made.created[i]);
                CHECK_EQ_INT(info.expires_at_ms, made.expires[i]); /* the TTL keeps counting */
        }
        CHECK(made.expires[0] != 0);
        const char *env_argv[] = {"env", NULL};
        ExecRequest req = {.argv = env_argv};
        ExecResult res;
        CHECK_EQ_INT(manager_exec(m, made.ids[0], &req, &res, &e), 0);
        CHECK(res.out.len && strstr((const char *)res.out.data, "GREETING=hi") != NULL);
        exec_result_free(&res);
        CHECK_EQ_INT(manager_delete(m, made.ids[1], &e), 0);
        manager_free(m); /* deletes the other one */
        CHECK_EQ_INT(leftovers(), 0);
        CHECK(no_children());
}

static pid_t recorded_pid(const char *id)
{
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/sandboxes/%s", tmp, id);
        SandboxRecord r;
        if (record_read(dir, id, &r, NULL) < 0)
                return 0;
        pid_t pid = (pid_t)json_integer_value(json_object_get(r.vm, "pid"));
        record_clear(&r);
        return pid;
}

static void rewrite(const char *id, const char *key, json_t *value)
{
        char path[192];
        snprintf(path, sizeof(path), "%s/sandboxes/%s/" RECORD_FILE, tmp, id);
        json_t *rec = json_load_file(path, 0, NULL);
        if (value)
                json_object_set_new(rec, key, value);
        else
                json_object_del(rec, key);
        json_dump_file(rec, path, JSON_COMPACT);
        json_decref(rec);
}

static void test_cleanup_of_what_cannot_be_adopted(void)
{
        Made made;
        CHECK(crash_after_creating(3, &made));
        pid_t dead = recorded_pid(made.ids[0]);
        CHECK(dead > 1);
        if (dead > 1)
                kill(dead, SIGKILL); /* died while no manager ran */
        rewrite(made.ids[1], "expires_at_ms", json_integer(1)); /* expired long ago */
        rewrite(made.ids[2], "vm", NULL);                      /* corrupt */
        Settings s = settings();
        Manager *m = NULL;
        Err e = {0};
        CHECK_EQ_INT(manager_new(&s, &m, &e), 0);
        SandboxInfo *list = NULL;
        size_t n = 0;
        CHECK_EQ_INT(manager_list(m, &list, &n), 0);
        CHECK_EQ_INT(n, 0);
        free(list);
        CHECK_EQ_INT(leftovers(), 0);
        manager_free(m);
        CHECK(no_children()); /* every VMM was killed (and reaped here, the subreaper) */
}

static void test_one_manager_per_state_dir(void)
{
        Settings s = settings();
        Manager *a = NULL, *b = NULL;
        Err e = {0};
        CHECK_EQ_INT(manager_new(&s, &a, &e), 0);
        CHECK_EQ_INT(manager_new(&s, &b, &e), -EBUSY);
        CHECK(strstr(e.msg, "in use by another emberd") != NULL);
        manager_free(a);
}

TEST_MAIN({
        if (!getenv("FAKE_VMM")) {
                fprintf(stderr, "FAKE_VMM is not set (run through meson test)\n");
                return 77;
        }
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        snprintf(tmp, sizeof(tmp), "/tmp/ember-test-rec-XXXXXX");
        CHECK(mkdtemp(tmp) != NULL);
        char path[128];
        snprintf(path, sizeof(path), "%s/vmlinux", tmp);
        write_file(path, "", 0, 0600);
        test_record_read();
        test_readoption();
        test_cleanup_of_what_cannot_be_adopted();
        test_one_manager_per_state_dir();
        rm_rf(tmp);
})
