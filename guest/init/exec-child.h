/* exec-child.h — the forked side of an exec: between fork() and execve() only. It must not
 * return, touch the handler's state, or leave any fd but 0, 1, 2 open. */
#pragma once

typedef struct ExecChild {
        const char *const *argv;
        const char *const *envp;
        const char *cwd;
        int cgroup_procs_fd; /* the exec's cgroup.procs to join, or -1 */
} ExecChild;

/* Own process group, pipes on 0/1/2, the exec's cgroup joined (then a cgroup namespace
 * rooted there, so that the program can neither leave it nor raise its limits), every other
 * fd closed, default signals and an empty mask, cwd, then execvp with envp's PATH.
 * Failures go to the program's stderr as "ember: <what>: <strerror>" with status 127
 * (program not found) or 126 (anything else, a cgroup that cannot be joined included: the
 * EXIT record would otherwise claim limits that were not applied). */
_Noreturn void exec_child_run(const ExecChild *c, int in_fd, int out_fd, int err_fd);
