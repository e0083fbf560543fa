/* cgtest.c — see cgtest.h. Test-only: it writes to the host's cgroup2 hierarchy, and
 * undoes every write before it returns from cgtest_remove(). */
#include "cgtest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "shared/util.h"

/* The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo. */
static int find_mount(char *out, size_t size)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file("/proc/self/mountinfo", 1u << 20, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char root[200], mnt[200];
                const char *dash = strstr(line, " - ");
                if (!dash || strncmp(dash, " - cgroup2 ", 11) != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %199s %199s", root, mnt) == 2 && !strcmp(root, "/")) {
                        snprintf(out, size, "%s", mnt);
                        return 0;
                }
        }
        return -ENOENT;
}

void cgtest_path_of(int pid, char *out, size_t size)
{
        char file[64];
        _cleanup_free_ char *text = NULL;
        snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
        out[0] = 0;
        if (read_file(file, 65536, &text, NULL) < 0 || cgroup_v2_path(text, out, size) < 0)
                out[0] = 0;
}

int cgtest_create(CgTest *t)
{
        char mnt[200], self[200];
        *t = (CgTest){.fd = -1};
        int r = find_mount(mnt, sizeof(mnt));
        if (r < 0)
                return r;
        cgtest_path_of(getpid(), self, sizeof(self));
        if (!self[0])
                return -ENOENT;
        snprintf(t->path, sizeof(t->path), "%s%s/ember-test-%d", mnt, strcmp(self, "/") ? self : "",
                 (int)getpid());
        if (mkdir(t->path, 0755) < 0)
                return -errno;
        t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->fd < 0) {
                r = -errno;
                rmdir(t->path);
                return r;
        }
        char ctl[512] = "";
        int cfd = openat(t->fd, "cgroup.controllers", O_RDONLY | O_CLOEXEC);
        ssize_t n = cfd >= 0 ? read(cfd, ctl, sizeof(ctl) - 1) : -1;
        if (cfd >= 0)
                close(cfd);
        ctl[n > 0 ? n : 0] = 0;
        t->controllers = cgroup_has_word(ctl, "memory") && cgroup_has_word(ctl, "pids");
        return 0;
}

/* Depth first: children before their parent (cgroupfs rmdir ignores the interface files). */
static void rmdir_tree(const char *path)
{
        DIR *d = opendir(path);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                char sub[1024];
                snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                rmdir_tree(sub);
        }
        if (d)
                closedir(d);
        for (int i = 0; i < 200 && rmdir(path) < 0 && errno == EBUSY; i++) { /* dying tasks */
                struct timespec ts = {0, 10 * 1000000};
                nanosleep(&ts, NULL);
        }
}

void cgtest_remove(CgTest *t)
{
        if (t->fd < 0)
                return;
        int kfd = openat(t->fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
        if (kfd >= 0) {
                ssize_t _unused_ w = write(kfd, "1", 1);
                close(kfd);
        }
        close(t->fd);
        t->fd = -1;
        rmdir_tree(t->path);
}
