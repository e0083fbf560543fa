/* test-manager.c — the sandbox manager end to end against fake-vmm.py (a stand-in VMM
 * speaking the Firecracker API, hybrid vsock and the agent protocol): validation, create,
 * exec (code and argv, env merge), delete, capacity, TTL, boot failures with their reasons,
 * a VM that dies, a delete racing an exec — and that nothing is left behind. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "sandbox/manager.h"
#include "sandbox/sandbox.h"
#include "shared/util.h"

static char tmp[64];
static char *python_interp[] = {"python3", "-u", NULL};
static char *shell_interp[] = {"sh", NULL};
static Pack packs[] = {
        {.name = "python", .rootfs = "python.squashfs", .interpreter = python_interp,
         .code_file = "main.py", .vcpus = 1, .memory_mib = 256},
        {.name = "shell", .interpreter = shell_interp, .code_file = "main.sh"},
};

static Settings settings(const char *boot_args)
{
        return (Settings){
                .state_dir = tmp,
                .images_dir = tmp,
                .vmm = VMM_PROCESS,
                .vmm_bin = getenv("FAKE_VMM"),
                .kernel = "vmlinux",
                .boot_args = (char *)boot_args,
                .packs = packs,
                .n_packs = ELEMENTSOF(packs),
                .max_sandboxes = 4,
                .max_vcpus = 4,
                .max_memory_mib = 2048,
                .max_ttl_s = 3600,
                .default_ttl_s = 600,
                .agent_port = 52,
                .boot_timeout_ms = 10000,
                .output_cap = 4096,
        };
}

static int entries(const char *dir)
{
        DIR *d = opendir(dir);
        int n = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return d ? n : -1;
}

static int leftovers(void)
{
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/sandboxes", tmp);
        return entries(dir);
}

/* Every VMM we spawned has been reaped and none is running. */
static bool no_children(void) { return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD; }

static Manager *new_manager(Settings *s)
{
        Manager *m = NULL;
        Err e = {0};
        int r = manager_new(s, &m, &e);
        if (r < 0)
                fprintf(stderr, "manager_new: %s\n", e.msg);
        CHECK_EQ_INT(r, 0);
        return m;
}

static int exec_argv(Manager *m, const char *id, const char **argv, const char **env,
                     ExecResult *res, Err *e)
{
        ExecRequest req = {.argv = argv, .env = env, .stdin_data = (const uint8_t *)"in", .stdin_len = 2};
        return manager_exec(m, id, &req, res, e);
}

static void test_validation(void)
{
        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        SandboxInfo info;
        Err e = {0};
        SandboxSpec spec = {.language_pack = "cobol"};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EINVAL);
        CHECK_STR(e.code, "unknown_language_pack");
        CHECK_STR(e.msg, "unknown language pack 'cobol'; known packs: python, shell");
        spec = (SandboxSpec){.language_pack = "python", .vcpus = 5};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EINVAL);
        CHECK(strncmp(e.msg, "vcpus:", 6) == 0);
        spec = (SandboxSpec){.language_pack = "python", .memory_mib = 4096};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EINVAL);
        CHECK(strncmp(e.msg, "memory_mib:", 11) == 0);
        spec = (SandboxSpec){.language_pack = "python", .ttl_s = 7200, .ttl_set = true};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EINVAL);
        CHECK(strncmp(e.msg, "ttl_s:", 6) == 0);
        const char *bad_env[] = {"=x", NULL};
        spec = (SandboxSpec){.language_pack = "python", .env = bad_env};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EINVAL);
        CHECK(strncmp(e.msg, "env:", 4) == 0);
        CHECK_EQ_INT(manager_get(m, "sb-0000000000000000", &info, &e), -ENOENT);
        CHECK_EQ_INT(manager_delete(m, "sb-0000000000000000", &e), -ENOENT);
        CHECK_STR(manager_vmm_name(m), "process");
        manager_free(m);

        char longdir[160];
        memset(longdir, 'd', sizeof(longdir));
        longdir[0] = '/';
        longdir[80] = 0;
        s.state_dir = longdir;
        Manager *m2 = NULL;
        CHECK_EQ_INT(manager_new(&s, &m2, &e), -ENAMETOOLONG);
        CHECK(strstr(e.msg, "is too long") != NULL);
}

static void test_lifecycle(void)
{
        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        const char *env[] = {"A=1", "B=2", NULL};
        SandboxSpec spec = {.language_pack = "python", .env = env};
        int r = manager_create(m, &spec, &info, &e);
        if (r < 0)
                fprintf(stderr, "create: %s\n", e.msg);
        CHECK_EQ_INT(r, 0);
        CHECK_STR(info.state, "ready");
        CHECK_STR(info.vmm, "process");
        CHECK_EQ_INT(info.vcpus, 1);
        CHECK_EQ_INT(info.memory_mib, 256);
        CHECK_EQ_INT(info.ttl_s, 600);
        CHECK(info.expires_at_ms > info.created_at_ms);
        CHECK(info.ready_ms >= info.boot_ms);
        regex_t rx;
        regcomp(&rx, "^sb-[0-9a-f]{16}$", REG_EXTENDED | REG_NOSUB);
        CHECK(regexec(&rx, info.id, 0, NULL, 0) == 0);
        regfree(&rx);
        CHECK_EQ_INT(leftovers(), 1);

        ExecRequest req = {.code = "print(6*7)", .code_len = 10};
        ExecResult res;
        CHECK_EQ_INT(manager_exec(m, info.id, &req, &res, &e), 0);
        CHECK_EQ_INT(res.out.len, 44);
        CHECK(res.out.data && !memcmp(res.out.data, "argv=python3,-u name=main.py code=print(6*7)", 44));
        CHECK_EQ_INT(res.exit_code, 0);
        exec_result_free(&res);

        const char *renv[] = {"B=3", "C=4", NULL};
        const char *argv_env[] = {"env", NULL};
        CHECK_EQ_INT(exec_argv(m, info.id, argv_env, renv, &res, &e), 0);
        CHECK_EQ_INT(res.out.len, 12);
        CHECK(res.out.data && !memcmp(res.out.data, "A=1\nB=3\nC=4\n", 12));
        exec_result_free(&res);

        const char *argv_cat[] = {"cat", NULL};
        CHECK_EQ_INT(exec_argv(m, info.id, argv_cat, NULL, &res, &e), 0);
        CHECK(res.out.len == 2 && !memcmp(res.out.data, "in", 2));
        exec_result_free(&res);
        const char *argv_exit[] = {"exit", "9", NULL};
        CHECK_EQ_INT(exec_argv(m, info.id, argv_exit, NULL, &res, &e), 0);
        CHECK_EQ_INT(res.exit_code, 9);
        exec_result_free(&res);

        req = (ExecRequest){.argv = argv_cat, .timeout_ms = EXEC_MAX_TIMEOUT_MS + 1};
        CHECK_EQ_INT(manager_exec(m, info.id, &req, &res, &e), -EINVAL);
        CHECK(strncmp(e.msg, "timeout_ms:", 11) == 0);
        req = (ExecRequest){0};
        CHECK_EQ_INT(manager_exec(m, info.id, &req, &res, &e), -EINVAL);

        SandboxInfo got;
        CHECK_EQ_INT(manager_get(m, info.id, &got, &e), 0);
        CHECK_EQ_INT(got.execs, 4);
        SandboxInfo *list = NULL;
        size_t n = 0;
        CHECK_EQ_INT(manager_list(m, &list, &n), 0);
        CHECK_EQ_INT(n, 1);
        free(list);

        CHECK_EQ_INT(manager_delete(m, info.id, &e), 0);
        CHECK_EQ_INT(manager_delete(m, info.id, &e), -ENOENT);
        CHECK_EQ_INT(manager_exec(m, info.id, &req, &res, &e), -ENOENT);
        CHECK_EQ_INT(leftovers(), 0);
        CHECK(no_children());
        ManagerStats st;
        manager_stats(m, &st);
        CHECK_EQ_INT(st.created_total, 1);
        CHECK_EQ_INT(st.deleted_total, 1);
        CHECK_EQ_INT(st.execs_total, 6);
        CHECK_EQ_INT(st.exec_failed_total, 2);
        CHECK_EQ_INT(st.sandboxes, 0);
        manager_free(m);
}

/* A create that must fail with a reason containing `want`, leaving nothing behind. */
static void boot_fails(const char *boot_args, const char *kernel, unsigned timeout_ms,
                       const char *want)
{
        Settings s = settings(boot_args);
        if (kernel)
                s.kernel = (char *)kernel;
        s.boot_timeout_ms = timeout_ms;
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell"};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EHOSTDOWN);
        CHECK_STR(e.code, "vm_boot_failed");
        if (!strstr(e.msg, want))
                fprintf(stderr, "boot error \"%s\" lacks \"%s\"\n", e.msg, want);
        CHECK(strstr(e.msg, want) != NULL);
        CHECK_EQ_INT(leftovers(), 0);
        CHECK(no_children());
        ManagerStats st;
        manager_stats(m, &st);
        CHECK_EQ_INT(st.create_failed_total, 1);
        CHECK_EQ_INT(st.sandboxes, 0);
        manager_free(m);
}

static void test_boot_failures(void)
{
        boot_fails("fake.exit=3", NULL, 10000, "exited with status 3 during boot");
        boot_fails("fake.exit=3", NULL, 10000, "console: fake-vmm: --engine process");
        boot_fails("fake.exit=3", NULL, 10000, " | fake: kernel panic, exiting 3");
        boot_fails(NULL, "missing-vmlinux", 10000,
                   "PUT /boot-source: 400: The kernel file cannot be opened");
        boot_fails("fake.agent=none", NULL, 300, "did not answer within 300 ms");
        /* a VMM binary that does not exist */
        Settings s = settings(NULL);
        s.vmm_bin = "/nonexistent/ember-vmm";
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell"};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), -EHOSTDOWN);
        CHECK(strstr(e.msg, "cannot start the VMM /nonexistent/ember-vmm") != NULL);
        CHECK_EQ_INT(leftovers(), 0);
        manager_free(m);
}

static void test_capacity_and_retry(void)
{
        Settings s = settings("fake.boot_delay_ms=200");
        s.max_sandboxes = 1;
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo a, b;
        SandboxSpec spec = {.language_pack = "shell"};
        CHECK_EQ_INT(manager_create(m, &spec, &a, &e), 0); /* refused CONNECTs are retried */
        CHECK_EQ_INT(manager_create(m, &spec, &b, &e), -EAGAIN);
        CHECK_STR(e.code, "capacity_reached");
        manager_free(m); /* deletes the live sandbox */
        CHECK_EQ_INT(leftovers(), 0);
        CHECK(no_children());
}

static void test_ttl(void)
{
        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell", .ttl_s = 1, .ttl_set = true};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), 0);
        int r = 0;
        for (int i = 0; i < 100 && r == 0; i++) { /* an event wait, not a timing assertion */
                usleep(100 * 1000);
                r = manager_get(m, info.id, &info, &e);
        }
        CHECK_EQ_INT(r, -ENOENT);
        ManagerStats st;
        manager_stats(m, &st);
        CHECK_EQ_INT(st.expired_total, 1);
        /* the reaper takes it out of the map first, then tears it down */
        for (int i = 0; i < 100 && leftovers() != 0; i++)
                usleep(20 * 1000);
        CHECK_EQ_INT(leftovers(), 0);
        manager_free(m);
        CHECK(no_children());
}

static void test_vm_death(void)
{
        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell"};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), 0);
        ExecResult res;
        const char *die[] = {"die", NULL};
        CHECK_EQ_INT(exec_argv(m, info.id, die, NULL, &res, &e), -EHOSTDOWN);
        CHECK(strstr(e.msg, "exited with status 7 while running") != NULL);
        CHECK_EQ_INT(manager_get(m, info.id, &info, &e), 0);
        CHECK_STR(info.state, "failed");
        const char *echo[] = {"echo", "hi", NULL};
        CHECK_EQ_INT(exec_argv(m, info.id, echo, NULL, &res, &e), -EHOSTDOWN);
        CHECK_EQ_INT(manager_delete(m, info.id, &e), 0);
        CHECK_EQ_INT(leftovers(), 0);
        manager_free(m);
        CHECK(no_children());
}

typedef struct Racer {
        Manager *m;
        const char *id;
        int r;
        Err e;
} Racer;

static void *slow_exec(void *arg)
{
        Racer *x = arg;
        ExecResult res;
        const char *sleep_argv[] = {"sleep", "30", NULL};
        x->r = exec_argv(x->m, x->id, sleep_argv, NULL, &res, &x->e);
        if (x->r >= 0)
                exec_result_free(&res);
        return NULL;
}

static void test_delete_during_exec(void)
{
        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        Err e = {0};
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell"};
        CHECK_EQ_INT(manager_create(m, &spec, &info, &e), 0);
        Racer x = {.m = m, .id = info.id};
        pthread_t t;
        pthread_create(&t, NULL, slow_exec, &x);
        usleep(300 * 1000); /* let the exec reach the agent; either order must end well */
        CHECK_EQ_INT(manager_delete(m, info.id, &e), 0);
        pthread_join(t, NULL);
        CHECK_EQ_INT(x.r, -EHOSTDOWN);
        CHECK_STR(x.e.msg, "the sandbox was deleted");
        CHECK_EQ_INT(leftovers(), 0);
        manager_free(m);
        CHECK(no_children());
}

typedef struct Creator {
        Manager *m;
        int r;
        Err e;
} Creator;

static void *create_slow(void *arg)
{
        Creator *c = arg;
        SandboxInfo info;
        SandboxSpec spec = {.language_pack = "shell"};
        c->r = manager_create(c->m, &spec, &info, &c->e);
        return NULL;
}

/* A delete while the VM boots aborts the boot at once and leaves nothing. */
static void test_delete_during_create(void)
{
        Settings s = settings("fake.boot_delay_ms=600000");
        s.boot_timeout_ms = 600000;
        Manager *m = new_manager(&s);
        Creator c = {.m = m};
        pthread_t t;
        pthread_create(&t, NULL, create_slow, &c);
        SandboxInfo *list = NULL;
        size_t n = 0;
        for (int i = 0; i < 500 && n == 0; i++) { /* wait for it to show up */
                free(list);
                list = NULL;
                manager_list(m, &list, &n);
                if (n == 0)
                        usleep(10 * 1000);
        }
        CHECK_EQ_INT(n, 1);
        Err e = {0};
        if (n == 1) {
                CHECK_STR(list[0].state, "creating");
                ExecResult res;
                const char *echo[] = {"echo", NULL};
                CHECK_EQ_INT(exec_argv(m, list[0].id, echo, NULL, &res, &e), -EBUSY);
                usleep(200 * 1000); /* let the boot reach the agent wait; any point must do */
                CHECK_EQ_INT(manager_delete(m, list[0].id, &e), 0);
        }
        free(list);
        pthread_join(t, NULL);
        CHECK_EQ_INT(c.r, -EHOSTDOWN);
        CHECK_STR(c.e.code, "vm_boot_failed");
        CHECK_STR(c.e.msg, "the sandbox was deleted while it was booting");
        CHECK_EQ_INT(leftovers(), 0);
        CHECK(no_children());
        manager_free(m);
}

/* A previous emberd died: its sandbox directory and VMM are still there. */
static void test_stale(void)
{
        char dir[128], api[160], decoy[128], decoy_sock[160];
        snprintf(dir, sizeof(dir), "%s/sandboxes/sb-00000000deadbeef", tmp);
        snprintf(api, sizeof(api), "%s/api.sock", dir);
        snprintf(decoy, sizeof(decoy), "%s/sandboxes/sb-decoy", tmp);
        snprintf(decoy_sock, sizeof(decoy_sock), "%s/api.sock", decoy);
        CHECK_EQ_INT(mkdir_p(dir, 0700), 0);
        CHECK_EQ_INT(mkdir_p(decoy, 0700), 0);
        pid_t pid = fork();
        if (pid == 0) {
                execl(getenv("FAKE_VMM"), "fake-vmm", "--api-sock", api, "--id", "x", (char *)NULL);
                _exit(127);
        }
        int fd = -1;
        for (int i = 0; i < 500 && unix_connect(api, &fd) < 0; i++)
                usleep(10 * 1000);
        CHECK(fd >= 0);
        close(fd);
        int decoy_fd = -1; /* served by this test, whose command line does not name it */
        CHECK_EQ_INT(unix_listen(decoy_sock, 1, &decoy_fd), 0);

        Settings s = settings(NULL);
        Manager *m = new_manager(&s);
        int status = 0;
        CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK_EQ_INT(leftovers(), 0);
        close(decoy_fd);
        manager_free(m);
}

static void test_pieces(void)
{
        CHECK(settings_find_pack(&(Settings){.packs = packs, .n_packs = 2}, "shell") == &packs[1]);
        CHECK(settings_find_pack(&(Settings){.packs = packs, .n_packs = 2}, "nope") == NULL);
        CHECK_STR(vmm_kind_name(VMM_AUTO), "auto");
        CHECK_STR(vmm_kind_name(VMM_FIRECRACKER), "firecracker");
        CHECK_STR(vmm_kind_name((VmmKind)42), "unknown");
        CHECK(sandbox_transition_allowed(SANDBOX_CREATING, SANDBOX_READY));
        CHECK(sandbox_transition_allowed(SANDBOX_CREATING, SANDBOX_FAILED));
        CHECK(sandbox_transition_allowed(SANDBOX_READY, SANDBOX_DELETING));
        CHECK(!sandbox_transition_allowed(SANDBOX_READY, SANDBOX_CREATING));
        CHECK(!sandbox_transition_allowed(SANDBOX_DELETING, SANDBOX_READY));
        CHECK(!sandbox_transition_allowed(SANDBOX_FAILED, SANDBOX_READY));
        CHECK_STR(sandbox_state_name(SANDBOX_DELETING), "deleting");
        char a[SANDBOX_ID_MAX], b[SANDBOX_ID_MAX];
        CHECK_EQ_INT(sandbox_id_new(a), 0);
        CHECK_EQ_INT(sandbox_id_new(b), 0);
        CHECK_EQ_INT(strlen(a), 19);
        CHECK(strcmp(a, b) != 0);
}

TEST_MAIN({
        snprintf(tmp, sizeof(tmp), "/tmp/ember-test-mgr-XXXXXX");
        CHECK(mkdtemp(tmp) != NULL);
        char path[128];
        snprintf(path, sizeof(path), "%s/vmlinux", tmp);
        write_file(path, "", 0, 0600);
        snprintf(path, sizeof(path), "%s/python.squashfs", tmp);
        write_file(path, "", 0, 0600);
        if (!getenv("FAKE_VMM")) {
                fprintf(stderr, "FAKE_VMM is not set (run through meson test)\n");
                return 77;
        }
        test_pieces();
        test_validation();
        test_lifecycle();
        test_boot_failures();
        test_capacity_and_retry();
        test_ttl();
        test_vm_death();
        test_delete_during_exec();
        test_delete_during_create();
        test_stale();
        rm_rf(tmp);
})
