/* main.c — emberd: configuration, the sandbox manager, the API listeners, and an orderly
 * shutdown on SIGINT/SIGTERM (stop accepting, delete every sandbox, remove sockets).
 * Signals are handled by sigwait() in this thread only; no work happens in a handler. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "api/api.h"
#include "config.h"
#include "shared/log.h"
#include "shared/ember-seccomp.h"
#include "shared/util.h"
#include "spawner.h"
#include "vmm/fc-launch.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif

/* The token file holds one token; surrounding whitespace (a trailing newline) is not
 * part of it. A world-readable file is allowed but reported. */
static int token_load(const char *path, char **ret, Err *e)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, API_MAX_TOKEN + 64, &text, &len);
        if (r < 0)
                return err_set(e, -r, "token file %s: %s", path, strerror(-r));
        while (len && strchr(" \t\r\n", text[len - 1]))
                text[--len] = 0;
        char *start = text + strspn(text, " \t\r\n");
        if (!*start || strlen(start) > API_MAX_TOKEN || strpbrk(start, " \t\r\n"))
                return err_set(e, EINVAL, "token file %s: want one token of 1 to %u bytes", path,
                               API_MAX_TOKEN);
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
                log_warn("token file %s is readable by everyone", path);
        *ret = strdup(start);
        explicit_bzero(text, len);
        return *ret ? 0 : err_set(e, ENOMEM, "out of memory");
}

/* The spawner thread first (it must stay unfiltered: VMMs and jailers inherit a filter),
 * then the filter on this thread, which every later thread inherits. */
static int harden(const Config *c)
{
        int r = spawner_start();
        if (r < 0) {
                log_error("cannot start the spawner thread: %s", strerror(-r));
                return r;
        }
        fc_launch_set_runner(spawner_run);
        if (c->no_seccomp || seccomp_sanitizer_build()) {
                log_warn("seccomp: no emberd filter (%s)",
                         c->no_seccomp ? "--no-seccomp" : "a sanitizer build");
                return 0;
        }
        Err e = {0};
        if ((r = seccomp_install(&seccomp_policy_emberd, &e)) < 0)
                log_error("%s", e.msg);
        else
                log_info("seccomp: emberd filter installed (other calls fail with EPERM)");
        return r;
}

/* Every API connection holds a socket (API_DEFAULT_MAX_CONNECTIONS per listener) and every
 * sandbox a few fds: the soft limit (1024 under systemd) would refuse clients long before. */
static void raise_fd_limit(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static void delete_all(Manager *m)
{
        _cleanup_free_ SandboxInfo *list = NULL;
        size_t n = 0;
        if (manager_list(m, &list, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                Err e = {0};
                if (manager_delete(m, list[i].id, &e) < 0 && e.errnum != ENOENT)
                        log_warn("sandbox=%s: delete at shutdown: %s", list[i].id, e.msg);
        }
        if (n)
                log_info("deleted %zu sandboxes", n);
}

static int serve(Config *c, Manager *m, const char *token, sigset_t *sigs)
{
        ApiOptions o = {
                .token = token,
                .token_on_loopback = !c->allow_insecure_tcp,
                .socket_mode = c->socket_mode,
                .socket_group = c->socket_group,
                .max_body_bytes = c->max_body_bytes,
                .version = EMBER_VERSION,
        };
        Api *api = NULL;
        Err e = {0};
        int r = api_new(m, &c->settings, &o, &api, &e);
        for (size_t i = 0; r >= 0 && i < c->n_listen; i++)
                r = api_listen(api, c->listen[i], &e);
        if (r < 0) {
                log_error("%s", e.msg);
        } else {
                log_info("emberd %s ready: vmm %s, %zu language packs, state in %s", EMBER_VERSION,
                         manager_vmm_name(m), c->settings.n_packs, c->settings.state_dir);
                int sig = 0;
                sigwait(sigs, &sig);
                log_info("SIG%s: shutting down", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
                api_quiesce(api);
                delete_all(m);
        }
        api_free(api);
        return r < 0 ? 1 : 0;
}

static int run(Config *c)
{
        Err e = {0};
        _cleanup_free_ char *token = NULL;
        if (c->token_file && token_load(c->token_file, &token, &e) < 0) {
                log_error("%s", e.msg);
                return 1;
        }
        int r = mkdir_p(c->settings.state_dir, 0755);
        if (r < 0) {
                log_error("state directory %s: %s", c->settings.state_dir, strerror(-r));
                return 1;
        }
        /* blocked before any thread exists, so every thread inherits the mask and only
         * sigwait() below ever sees these */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();
        if (harden(c) < 0)
                return 1;
        Manager *m = NULL;
        if (manager_new(&c->settings, &m, &e) < 0) {
                log_error("%s", e.msg);
                return 1;
        }
        r = serve(c, m, token, &sigs);
        manager_free(m);
        if (token)
                explicit_bzero(token, strlen(token));
        log_info("stopped");
        return r;
}

int main(int argc, char **argv)
{
        log_set_prefix("emberd");
        Config c;
        Err e = {0};
        if (config_parse(&c, argc, argv, &e) < 0) {
                fprintf(stderr, "emberd: %s\n", e.msg);
                config_free(&c);
                return 2;
        }
        int r = 0;
        if (c.help)
                config_print_help(stdout, "emberd");
        else if (c.version)
                printf("emberd %s\n", EMBER_VERSION);
        else {
                log_set_level(c.log_level);
                r = run(&c);
        }
        config_free(&c);
        return r;
}
