/* args.h — ember-jailer's command line: the subset of Firecracker's jailer that ember uses
 * (FACTS §5), plus two ember extensions (--bind-ro, --extra-dev) that a non-static VMM
 * needs. One table row per option. Parsing and path building only: no system changes. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../shared/err.h"
#include "../vmm/cgroup.h"

#define JAILER_DEFAULT_CHROOT_BASE "/srv/jailer"
#define JAILER_DEFAULT_NOFILE 2048ull
#define JAILER_MAX_BINDS 16
#define JAILER_EXIT_ERROR 1

/* --extra-dev NAME: device nodes beyond Firecracker's tun/kvm/urandom/userfaultfd. */
enum {
        JAILER_DEV_NULL = 1u << 0,
        JAILER_DEV_ZERO = 1u << 1,
        JAILER_DEV_RANDOM = 1u << 2,
        JAILER_DEV_LOOP = 1u << 3, /* /dev/loop-control and /dev/loop0..JAILER_LOOP_NODES-1 */
};
#define JAILER_LOOP_NODES 256

typedef struct JailerArgs {
        const char *id;
        const char *exec_file;
        uid_t uid;
        gid_t gid;
        const char *chroot_base;
        const char *netns;
        bool daemonize, new_pid_ns;
        int cgroup_version;
        const char *parent_cgroup; /* NULL = the exec file's basename */
        CgroupSetting cgroups[CGROUP_MAX_FILES];
        size_t n_cgroups;
        unsigned long long nofile, fsize;
        bool fsize_set;
        const char *bind_ro[JAILER_MAX_BINDS];
        size_t n_bind_ro;
        unsigned devs;
        char *const *extra; /* everything after "--", passed to the exec file */
        int n_extra;
        bool help, version;
        unsigned seen; /* options given, one bit per table row */
} JailerArgs;

/* Fills a from argv (pointers into argv). -EINVAL with a message naming the argument. */
int jailer_args_parse(int argc, char *const *argv, JailerArgs *a, Err *e);
/* Firecracker's validate_instance_id(): 1-64 characters, alphanumeric or '-'. */
/* <base>/<basename of exec_file>/<id>/root; -EINVAL when exec_file has no basename. */
int jailer_chroot_dir(const char *base, const char *exec_file, const char *id, char **ret);
/* The basename of exec_file (a pointer into it). */
const char *jailer_exec_name(const char *exec_file);
void jailer_usage(void);
