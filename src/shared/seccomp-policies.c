/* seccomp-policies.c — the allow-lists. Learned with `strace -f -ff` over the integration
 * suite and a qemu boot (emberd, ember-vmm, emberd-init, qemu, the packs' interpreters),
 * then grouped by what needs them; a name missing here fails with EPERM, so add it to the
 * table of the part that needs it, with the reason in a comment when it is not obvious.
 * seccomp_policy_check() (tests/unit/jailer/test-seccomp.c) keeps every table valid. */
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "ember-seccomp.h"

/* Any threaded glibc program: memory, signals, time, files, fds, polling, threads. */
static const char *const base[] = {
        "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "close_range",
        "open", "openat", "newfstatat", "fstat", "lstat", "stat", "statx", "statfs", "fstatfs",
        "lseek", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
        "getdents64", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "ioctl",
        "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "mincore",
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
        "tgkill", "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
        "arch_prctl", "exit", "exit_group", "getpid", "gettid", "getppid", "getuid", "geteuid",
        "getgid", "getegid", "getrandom", "clock_gettime", "clock_getres", "clock_nanosleep",
        "nanosleep", "gettimeofday", "prlimit64", "getrlimit", "sched_yield",
        "sched_getaffinity", "uname", "sysinfo", "poll", "ppoll", "select", "pselect6",
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "timerfd_create",
        "timerfd_settime", "clone", "clone3", "membarrier", NULL,
};

/* Sockets: the API (Unix, TCP), the Firecracker API client, hybrid vsock. */
static const char *const net[] = {
        "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "shutdown",
        "getsockname", "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom",
        "sendmsg", "recvmsg", NULL,
};

/* emberd: state dir and records, jails (link/copy), cgroups, /proc scans at recovery,
 * pidfds of the VMMs, the subreaper flag, one network namespace per jailed VM. */
static const char *const emberd[] = {
        "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
        "link", "linkat", "symlink", "chmod", "fchmod", "chown", "fchown", "fsync", "fdatasync",
        "ftruncate", "flock", "sendfile", "copy_file_range", "umask", "pidfd_open",
        "pidfd_send_signal", "waitid", "wait4", "kill", "prctl", NULL,
};
static const char *const *const emberd_tables[] = {base, net, emberd, NULL};
static const SeccompArgRule emberd_if[] = {
        {"unshare", 0, 0x40000000 /* CLONE_NEWNET: fc-jail.c's namespace thread */},
};

const SeccompPolicy seccomp_policy_emberd = {
        .name = "emberd",
        .allow = emberd_tables,
        .allow_if = emberd_if,
        .n_allow_if = ELEMENTSOF(emberd_if),
};

/* ember-vmm itself, either engine: the API socket, the vsock muxer, drives, its children. */
static const char *const vmm[] = {
        "mkdir", "unlink", "unlinkat", "ftruncate", "flock", "memfd_create", "pidfd_open",
        "pidfd_send_signal", "pidfd_getfd", "waitid", "wait4", "kill", "prctl", "execve",
        "fork", "vfork", "setsid", "setpgid", "chdir", "umask", "fsync", NULL,
};

/* The process engine's children: emberd-init as PID 1 (mounts, devices, overlay root) and
 * whatever the guest runs — interpreters, shells, coreutils, package managers. The process
 * engine is not an isolation boundary (docs/design.md); this list keeps the kernel's
 * administrative calls (seccomp_kill_list and everything not named) out of reach. */
static const char *const guest[] = {
        "mount", "umount2", "pivot_root", "chroot", "mknod", "mknodat", "symlink", "symlinkat",
        "link", "linkat", "rename", "renameat", "renameat2", "mkdirat", "rmdir", "unlink",
        "chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown", "utimensat",
        "futimesat", "utimes", "utime", "truncate", "ftruncate", "fallocate", "fsync",
        "fdatasync", "sync", "syncfs", "sync_file_range", "fadvise64", "readahead", "sendfile",
        "copy_file_range", "splice", "tee", "vmsplice", "inotify_init1", "inotify_add_watch",
        "inotify_rm_watch", "flock", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
        "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
        "lremovexattr", "fremovexattr", "name_to_handle_at", "memfd_create", "shmget", "shmat",
        "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "msgget", "msgsnd",
        "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
        "mq_notify", "mq_getsetattr", "mlock", "mlock2", "munlock", "mlockall", "munlockall",
        "msync", "pkey_alloc", "pkey_free", "pkey_mprotect", "personality", "capget",
        "capset", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
        "getresuid", "getresgid", "setgroups", "getgroups", "setfsuid", "setfsgid", "setsid",
        "getsid", "setpgid", "getpgid", "getpgrp", "getpriority", "setpriority",
        "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
        "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_getattr", "sched_setattr", "ioprio_get", "ioprio_set",
        "getrusage", "times", "umask", "chdir", "fchdir", "sethostname", "setdomainname",
        "setrlimit", "alarm", "pause", "getitimer", "setitimer", "timer_create",
        "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
        "timerfd_gettime", "signalfd", "signalfd4", "rt_sigpending", "rt_sigsuspend",
        "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tkill", "kill", "wait4", "waitid", "execve",
        "execveat", "fork", "vfork", "unshare", "setns", "epoll_create", "epoll_pwait2",
        "eventfd", "inotify_init", "sysinfo", "getcpu",
        "process_madvise", "pidfd_open", "pidfd_send_signal", "close_range", "openat2",
        "mount_setattr", "sched_getaffinity", "recvmmsg", "sendmmsg", "io_setup", "io_destroy",
        "io_submit", "io_cancel", "io_getevents", "mbind", "get_mempolicy", "set_mempolicy",
        "migrate_pages", "move_pages", "prctl", "futex_waitv", NULL,
};

/* qemu: guest RAM in memfds, the vhost-user socket, its threads, NUMA calls. io_uring is
 * left out (a large kernel surface); qemu falls back to its thread pool. qemu calls
 * seccomp() itself to probe its own -sandbox support; a filter can only narrow ours. */
static const char *const qemu[] = {
        "memfd_create", "ftruncate", "fallocate", "get_mempolicy", "set_mempolicy", "mbind",
        "signalfd4", "seccomp", "sched_setaffinity", "setpriority", "getpriority", "pipe2",
        "eventfd2", "io_setup", "io_destroy", "io_submit", "io_getevents", "msync", "mlock",
        "munlock", "getrusage", "timer_create", "timer_settime", "timer_delete", "umask",
        "rt_sigqueueinfo", "sendmmsg", "recvmmsg", "mkdir", "rmdir", "chdir",
        /* the block layer's thread pool: virtio-blk reads (without it the guest's first
         * exec from the pack meets "I/O error"), writes and flushes of writable drives */
        "preadv", "pwritev", "fdatasync", NULL,
};

static const char *const *const vmm_process_tables[] = {base, net, vmm, guest, NULL};
static const char *const *const vmm_qemu_tables[] = {base, net, vmm, qemu, NULL};

static const SeccompPolicy vmm_process = {
        .name = "ember-vmm/process", .allow = vmm_process_tables, .tsync = true,
};
static const SeccompPolicy vmm_qemu = {
        .name = "ember-vmm/qemu", .allow = vmm_qemu_tables, .tsync = true,
};

const SeccompPolicy *seccomp_policy_vmm(const char *engine)
{
        if (engine && !strcmp(engine, "qemu"))
                return &vmm_qemu;
        return &vmm_process;
}

/* Loading kernels or modules, tracing or writing other processes, BPF, keyrings, raw I/O
 * ports, swap, the clock, handles that bypass paths: nothing ember runs needs them, and
 * an exploit that tries one is stopped there and then (Firecracker kills too: FACTS §6). */
const char *const seccomp_kill_list[] = {
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "ptrace", "process_vm_writev", "process_vm_readv", "bpf", "perf_event_open",
        "add_key", "request_key", "keyctl", "iopl", "ioperm", "swapon", "swapoff",
        "open_by_handle_at", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        "acct", "quotactl", "lookup_dcookie", "userfaultfd", "reboot", "vhangup",
        "fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "fspick", NULL,
};
