/* agent.h — the exec agent: PID 1's accept loop (agent.c), the per-connection handler
 * (handler.c) and the EXEC runner (exec.c). PID 1 only accepts, forks one handler per
 * connection and reaps; the handler speaks src/proto for that one connection and exits.
 * Everything a host sends is bounded by src/proto/limits.h and by the waits below. */
#pragma once
#include <stdint.h>

#include "proto/proto.h"

#define AGENT_MAX_HANDLERS 64
#define AGENT_FIRST_FRAME_MS 10000   /* a silent host is dropped after this */
#define AGENT_DRAIN_MS 200           /* idle pipes after the exit: escaped writers */
#define AGENT_FLUSH_MS 5000          /* final frames to a slow host */
#define AGENT_STDIN_QUEUE (256u << 10) /* stdin not yet read by the program */
#define AGENT_OUT_QUEUE (256u << 10) /* frames not yet read by the host */
#define AGENT_SHUTDOWN_MS 5000       /* killing everything at shutdown */
#define AGENT_EXEC_DIR "/run/ember/exec"
#define AGENT_DEFAULT_CWD "/root"
#define AGENT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct AgentConfig {
        const char *exec_dir;    /* per-exec directories <exec_dir>/<handler pid>/ */
        const char *default_cwd; /* created when missing */
        int64_t start_ms;        /* now_ms() at start: PONG's uptime is counted from it */
        unsigned max_handlers;
        int cgroup_fd;           /* parent of the per-exec cgroups (cgroup.h); -1 = none:
                                  * process groups and rusage, limits not enforced */
} AgentConfig;

void agent_config_init(AgentConfig *cfg);

/* Serves listen_fd (a listening stream socket: AF_VSOCK in a VM, AF_UNIX in the process
 * engine and tests) until SIGINT or SIGTERM; reaps every child meanwhile. Blocks SIGCHLD,
 * SIGINT and SIGTERM; makes itself a child subreaper when it is not PID 1. On the way out
 * kills every process it started or inherited and reaps them. Returns the signal number
 * that ended it, or -errno when it could not start. */
int agent_serve(int listen_fd, const AgentConfig *cfg);

/* Kills and reaps every descendant: kill(-1) as PID 1, else (subreaper) the children over
 * and over until none is left. Bounded by AGENT_SHUTDOWN_MS. */
void agent_kill_all(void);

/* One connection, in the forked handler process; returns its exit status. */
int handler_main(int conn, const AgentConfig *cfg);

/* One EXEC request (payload of the first frame); sfd reports SIGTERM/SIGINT. */
int exec_run(int conn, int sfd, const uint8_t *payload, size_t len, const AgentConfig *cfg);

/* The program's environment: defaults (PATH, HOME, LANG) overridden by the request's
 * "KEY=VALUE" entries, later ones winning. Returns a malloc'd NULL-terminated array whose
 * strings belong to the defaults or to x. */
int exec_build_env(const ProtoExec *x, const char ***ret);
/* Sends ERROR (errno + message), best effort. */
void handler_send_error(int conn, int errnum, const char *msg);
