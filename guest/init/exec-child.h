/* exec-child.h — the forked side of an exec: between fork() and execve() only. It must not
 * return, touch the handler's state, or leave any fd but 0, 1, 2 open. */
#pragma once

typedef struct ExecChild {
        const char *const *argv;
        const char *const *envp;
        const char *cwd;
} ExecChild;

/* Own process group, pipes on 0/1/2, every other fd closed, default signals and an empty
 * mask, cwd, then execvp with envp's PATH. Failures go to the program's stderr as
 * "ember: <what>: <strerror>" with status 127 (program not found) or 126 (anything else). */
_Noreturn void exec_child_run(const ExecChild *c, int in_fd, int out_fd, int err_fd);
