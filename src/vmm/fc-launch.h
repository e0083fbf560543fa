/* fc-launch.h — the VMM child process: spawn it detached (own session, console to a file,
 * no inherited fds), watch it through a pidfd, kill and reap it, describe how it ended.
 * Knows nothing of the API or of sandboxes; never logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../shared/err.h"

#define FC_CONSOLE_TAIL_MAX 2048u /* bytes of console.log read for a boot error */
#define FC_ERR_PREFIX_ROOM 192u   /* Err room left for the context callers prefix */

typedef struct FcProc {
        pid_t pid;  /* 0 = none */
        int pidfd;  /* -1 = none; readable once the child has exited */
        bool reaped;
        bool adopted;    /* not our child (a previous emberd's): watched, killed, not waited for */
        int how, status; /* from waitid() once reaped: si_code (CLD_EXITED...), si_status */
} FcProc;

#define FC_PROC_INIT ((FcProc){.pid = 0, .pidfd = -1})

/* Where posix_spawn runs: the calling thread by default. A seccomp filter survives execve,
 * so emberd runs it on a thread of its own that has none (src/daemon/spawner.c). */
typedef void (*FcLaunchRunner)(void (*fn)(void *arg), void *arg);
void fc_launch_set_runner(FcLaunchRunner run);
/* argv[0] is looked up in PATH when it has no '/'. stdout and stderr are appended to
 * console_path; stdin is /dev/null; cwd is dir; signals default, mask empty; setsid. */
int fc_launch_spawn(const char *const *argv, const char *dir, const char *console_path,
                    FcProc *ret);
/* Takes over a VMM that another process spawned (a previous emberd): -ESRCH unless pid is
 * alive and started at start_time (fc_launch_start_time), so a recycled pid is never taken.
 * "Reaping" an adopted process only waits for its exit; its status stays unknown. */
int fc_launch_adopt(pid_t pid, uint64_t start_time, FcProc *ret);
/* Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
int fc_launch_start_time(pid_t pid, uint64_t *ret);
/* Does /proc/<pid>/cmdline hold arg as one whole argument? */
bool fc_launch_cmdline_has(pid_t pid, const char *arg);
/* Waits until the child exits or deadline (<0 = none): 1 exited, 0 still running. Does not reap. */
int fc_launch_wait_exit(const FcProc *p, int64_t deadline_ms);
static inline bool fc_launch_exited(const FcProc *p) { return fc_launch_wait_exit(p, 0) > 0; }
void fc_launch_kill(const FcProc *p);  /* SIGKILL through the pidfd; safe from any thread */
int fc_launch_reap(FcProc *p);         /* blocking waitid(); call after the child exited or was killed */
void fc_launch_close(FcProc *p);       /* closes the pidfd; the child must be reaped */
/* "exited with status 1", "was killed by signal 9", "is running"; does not reap. */
void fc_launch_describe(const FcProc *p, char *out, size_t out_size);
/* Polls connect() on sock_path until it accepts; fails fast (with how the child ended and
 * the console tail) if the child exits first. */
int fc_launch_wait_socket(const FcProc *p, const char *sock_path, const char *console_path,
                          int64_t deadline_ms, Err *e);
/* -EHOSTDOWN "the VMM exited with status 1 <when>; console: <last lines>". */
int fc_launch_exit_error(const FcProc *p, const char *console_path, const char *when, Err *e);
/* The last lines of the console as one line (" | " between lines, printable ASCII only),
 * at most out_size-1 bytes. */
void fc_launch_console_tail(const char *console_path, char *out, size_t out_size);
