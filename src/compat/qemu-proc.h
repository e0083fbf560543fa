/* qemu-proc.h — the QEMU child process: spawned with exactly the fds it is given, stdin on
 * /dev/null, stdout and stderr on one fd of ours, and SIGKILL as its parent-death signal
 * (ember-vmm dies -> QEMU dies). Held by a pidfd, so a recycled pid is never signalled.
 * Must be called from the thread that lives as long as the process (PDEATHSIG follows the
 * creating thread): ember-vmm's main thread. Knows nothing of QEMU's options. */
#pragma once
#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>

#include "../shared/err.h"

typedef struct QemuProc {
        pid_t pid;   /* 0 = none */
        int pidfd;   /* POLLIN once it has exited */
        bool reaped;
        siginfo_t status;
} QemuProc;

#define QEMU_PROC_INIT ((QemuProc){.pid = 0, .pidfd = -1})
#define QEMU_PROC_MAX_FDS 24

/* argv[0] is looked up in PATH. keep[] are inherited at their numbers (they may be
 * CLOEXEC here); out_fd becomes the child's stdout and stderr. Returns once QEMU has
 * exec'd; an exec failure is an error with its errno. */
int qemu_proc_spawn(char *const *argv, const int *keep, size_t n_keep, int out_fd,
                    QemuProc *ret, Err *e);
/* SIGKILL (if running) and reap. Idempotent. */
void qemu_proc_kill(QemuProc *p);
/* Reaps an exited child (blocking: call after pidfd fired) and describes its end. */
int qemu_proc_reap(QemuProc *p, char *how, size_t how_size);
/* Kills, reaps and closes the pidfd. */
void qemu_proc_release(QemuProc *p);
