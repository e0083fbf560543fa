/* sandbox-exec.c — one exec in a sandbox: the agent request built from an ExecRequest and
 * the pack, a fresh vsock connection, the agent exchange, and the result with its verdict.
 * Never holds the manager's lock; a VM that died turns into a prompt -EHOSTDOWN and the
 * sandbox into "failed"; an agent that lets the exec's timeout and the grace pass without
 * an EXIT gets its VM killed (the guest is no longer trusted). Must not buffer beyond the
 * output caps (agent.c enforces them). */
#include "sandbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../vsock/agent.h"
#include "../vsock/hybrid.h"

static size_t strv_len(const char *const *v, size_t max)
{
        size_t n = 0;
        while (v && v[n] && n <= max)
                n++;
        return n;
}

static size_t env_key_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t)(eq - kv) : 0;
}

static bool env_has_key(const char *const *env, const char *kv)
{
        size_t k = env_key_len(kv);
        for (size_t i = 0; env && env[i]; i++)
                if (env_key_len(env[i]) == k && !strncmp(env[i], kv, k))
                        return true;
        return false;
}

/* Sandbox env first, minus the keys the request sets, then the request's env. */
static int merge_env(const Sandbox *sb, const char *const *req_env, const char ***ret,
                     uint32_t *ret_n, Err *e)
{
        size_t ns = strv_len((const char *const *)sb->env, PROTO_MAX_ENV);
        size_t nr = strv_len(req_env, PROTO_MAX_ENV);
        for (size_t i = 0; i < nr; i++)
                if (env_key_len(req_env[i]) == 0)
                        return err_set(e, EINVAL, "env: entry %zu is not KEY=VALUE", i);
        const char **env = calloc(ns + nr + 1, sizeof(char *));
        if (!env)
                return err_set(e, ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < ns; i++)
                if (!env_has_key(req_env, sb->env[i]))
                        env[n++] = sb->env[i];
        for (size_t i = 0; i < nr; i++)
                env[n++] = req_env[i];
        if (n > PROTO_MAX_ENV) {
                free(env);
                return err_set(e, EINVAL, "env: more than %u variables", PROTO_MAX_ENV);
        }
        *ret = env;
        *ret_n = (uint32_t)n;
        return 0;
}

/* A memory limit beyond the sandbox's memory means no more than the VM's own: reduced to it. */
static int build_limits(const Sandbox *sb, const ExecRequest *req, ProtoExec *x, Err *e)
{
        if (req->pids_limit > EXEC_MAX_PIDS_LIMIT)
                return err_setc(e, EINVAL, "invalid_field", "pids_limit must be at most %u",
                                EXEC_MAX_PIDS_LIMIT);
        x->memory_limit_mib = MIN(req->memory_limit_mib, MIN(sb->memory_mib, EXEC_MAX_MEMORY_LIMIT_MIB));
        x->pids_limit = req->pids_limit;
        return 0;
}

static int build_argv(const Sandbox *sb, const ExecRequest *req, ProtoExec *x, Err *e)
{
        bool has_argv = req->argv && req->argv[0];
        if (req->code && has_argv)
                return err_set(e, EINVAL, "argv: give either code or argv, not both");
        if (!req->code && !has_argv)
                return err_set(e, EINVAL, "argv: give code or argv");
        if (!req->code) {
                size_t n = strv_len(req->argv, PROTO_MAX_ARGS);
                if (n > PROTO_MAX_ARGS)
                        return err_set(e, EINVAL, "argv: more than %u arguments", PROTO_MAX_ARGS);
                x->argv = (const char **)req->argv;
                x->argc = (uint32_t)n;
                return 0;
        }
        if (req->code_len > PROTO_MAX_CODE)
                return err_set(e, EINVAL, "code: longer than %u bytes", PROTO_MAX_CODE);
        const char *const *interp = (const char *const *)sb->pack->interpreter;
        if (!interp || !interp[0])
                return err_set(e, EINVAL, "code: language pack '%s' has no interpreter; use argv",
                               sb->pack->name);
        x->argv = (const char **)interp;
        x->argc = (uint32_t)strv_len(interp, PROTO_MAX_ARGS);
        x->code = (const uint8_t *)req->code;
        x->code_len = (uint32_t)req->code_len;
        x->code_name = sb->pack->code_file;
        return 0;
}

int sandbox_exec_build(const Sandbox *sb, const ExecRequest *req, uint32_t output_cap,
                       ProtoExec *ret, const char ***ret_env, Err *e)
{
        ProtoExec x = {.cwd = req->cwd};
        if (req->timeout_ms > EXEC_MAX_TIMEOUT_MS)
                return err_set(e, EINVAL, "timeout_ms: at most %u", EXEC_MAX_TIMEOUT_MS);
        if (req->stdin_len > EXEC_MAX_STDIN)
                return err_set(e, EINVAL, "stdin: longer than %u bytes", EXEC_MAX_STDIN);
        if (req->cwd && strlen(req->cwd) >= PROTO_MAX_STRING)
                return err_set(e, EINVAL, "cwd: too long");
        x.timeout_ms = req->timeout_ms ? req->timeout_ms : EXEC_DEFAULT_TIMEOUT_MS;
        x.stdout_cap = x.stderr_cap =
                output_cap ? MIN(output_cap, EXEC_MAX_OUTPUT_CAP) : EXEC_DEFAULT_OUTPUT_CAP;
        int r = build_limits(sb, req, &x, e);
        if (r >= 0)
                r = build_argv(sb, req, &x, e);
        if (r >= 0)
                r = merge_env(sb, req->env, &x.env, &x.envc, e);
        if (r < 0)
                return r;
        *ret = x;
        *ret_env = x.env;
        return 0;
}

/* The VM is gone: say why, and remember it unless a delete did it. */
static int vm_gone(Sandbox *sb, Err *e)
{
        if (sandbox_get_state(sb) == SANDBOX_DELETING)
                return err_set(e, EHOSTDOWN, "the sandbox was deleted");
        (void)sandbox_set_state(sb, SANDBOX_FAILED);
        return fc_vm_exit_error(sb->vm, "while running", e);
}

/* Did this failure come from the VM going away? A connection cut by a dying VMM may be
 * seen a moment before the process is gone, so those errors wait briefly. */
static bool vm_down(Sandbox *sb, int r)
{
        if (r == -EHOSTDOWN || sandbox_get_state(sb) == SANDBOX_DELETING)
                return true;
        bool cut = r == -EPROTO || r == -ECONNRESET || r == -EPIPE;
        return fc_vm_wait_exit(sb->vm, cut ? SANDBOX_VM_DEATH_MS : 0);
}

/* The agent let the exec's timeout and the grace pass without an EXIT (it may be wedged, or
 * no longer ours): the VM is killed and torn down, the sandbox stays listed as failed. */
static int agent_unresponsive(Sandbox *sb, const ProtoExec *x, Err *e)
{
        if (sandbox_get_state(sb) == SANDBOX_DELETING)
                return err_set(e, EHOSTDOWN, "the sandbox was deleted");
        (void)sandbox_set_state(sb, SANDBOX_FAILED); /* -EBUSY: another exec did it */
        fc_vm_kill(sb->vm);            /* no Ctrl-Alt-Del grace: the guest is not listening */
        sandbox_teardown_failed(sb);   /* reaped, sockets and directory gone; idempotent */
        return err_setc(e, ETIMEDOUT, "agent_unresponsive",
                        "the guest agent gave no exit record within %u ms (timeout_ms %u + %u ms "
                        "grace): the VM was killed and sandbox '%s' is now failed",
                        x->timeout_ms + EXEC_AGENT_GRACE_MS, x->timeout_ms, EXEC_AGENT_GRACE_MS,
                        sb->id);
}

static void result_from(AgentExecOut *o, ExecResult *ret)
{
        ProtoExit verdict = o->exit; /* what the host dropped counts as truncation too */
        verdict.flags |= (o->stdout_truncated ? EXIT_F_STDOUT_TRUNC : 0) |
                         (o->stderr_truncated ? EXIT_F_STDERR_TRUNC : 0);
        *ret = (ExecResult){
                .out = o->out,
                .err = o->err,
                .exit_code = o->exit.exit_code,
                .signal = o->exit.signal,
                .timed_out = (o->exit.flags & EXIT_F_TIMED_OUT) != 0,
                .stdout_truncated = o->stdout_truncated,
                .stderr_truncated = o->stderr_truncated,
                .duration_ms = o->exit.duration_us / 1000,
                .cpu_time_ms = o->exit.cpu_time_us / 1000,
                .peak_memory_kib = o->exit.peak_rss_kib,
                .status = proto_exec_status_name(proto_exit_status(&verdict)),
                .limits_enforced = (o->exit.flags & EXIT_F_LIMITS_ENFORCED) != 0,
        };
}

int sandbox_exec(Sandbox *sb, const ExecRequest *req, uint32_t output_cap, ExecResult *ret,
                 Err *e)
{
        ProtoExec x;
        _cleanup_free_ const char **env = NULL;
        int r = sandbox_exec_build(sb, req, output_cap, &x, &env, e);
        if (r < 0)
                return r;
        FcVm *vm = sb->vm; /* set before the sandbox became ready, never changed after */
        if (vm_down(sb, 0))
                return vm_gone(sb, e);
        _cleanup_close_ int fd = -1;
        r = hybrid_dial(fc_vm_vsock_path(vm), sb->agent_port, now_ms() + SANDBOX_EXEC_DIAL_MS,
                        fc_vm_pidfd(vm), &fd, e);
        if (r < 0 && vm_down(sb, r))
                return vm_gone(sb, e);
        if (r < 0) {
                char why[ERR_MSG_MAX / 2];
                snprintf(why, sizeof(why), "%.*s", (int)sizeof(why) - 1, e ? e->msg : "");
                return err_set(e, EHOSTDOWN, "cannot reach the guest agent: %s", why);
        }
        AgentExecIn in = {.exec = &x, .stdin_data = req->stdin_data, .stdin_len = req->stdin_len,
                          .abort_fd = fc_vm_pidfd(vm)};
        AgentExecOut out;
        r = agent_exec(fd, &in, &out, e);
        if (r < 0 && vm_down(sb, r))
                return vm_gone(sb, e);
        if (r == -ETIMEDOUT)
                return agent_unresponsive(sb, &x, e);
        if (r < 0)
                return r;
        atomic_fetch_add(&sb->execs, 1);
        result_from(&out, ret);
        return 0;
}
