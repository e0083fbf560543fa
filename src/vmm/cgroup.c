/* cgroup.c — see cgroup.h. The v1 and v2 rules follow Firecracker's jailer (cgroup.rs):
 * v1 inherits an empty value from the nearest ancestor before writing, v2 enables the
 * controller in cgroup.subtree_control from the top of the mount down. Files are opened
 * without O_CREAT: a knob the kernel does not offer is an error, never a new file. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../shared/util.h"

#define CGROUP_MOUNTS_MAX (256u * 1024)
#define CGROUP_LINE_MAX 4096u

/* ---- mounts ---- */

/* "dev dir type opts 0 0" -> dir, type, opts (pointers into line, which is cut up). */
static bool mounts_split(char *line, char **dir, char **type, char **opts)
{
        char *save = NULL;
        char *dev = strtok_r(line, " \t", &save);
        *dir = dev ? strtok_r(NULL, " \t", &save) : NULL;
        *type = *dir ? strtok_r(NULL, " \t", &save) : NULL;
        *opts = *type ? strtok_r(NULL, " \t", &save) : NULL;
        return *opts != NULL;
}

static int mounts_add(CgroupFs *fs, int version, const char *dir, const char *opts)
{
        if (version == 2) {
                if (fs->unified) /* the jailer takes the first cgroup2 mount */
                        return 0;
                fs->unified = strdup(dir);
                return fs->unified ? 0 : -ENOMEM;
        }
        if (fs->n_v1 == CGROUP_MAX_MOUNTS)
                return 0;
        CgroupMount *m = &fs->v1[fs->n_v1];
        m->dir = strdup(dir);
        m->opts = strdup(opts);
        if (!m->dir || !m->opts) {
                free(m->dir);
                free(m->opts);
                *m = (CgroupMount){0};
                return -ENOMEM;
        }
        fs->n_v1++;
        return 0;
}

int cgroup_fs_load(const char *mounts_path, int version, CgroupFs *ret, Err *e)
{
        *ret = (CgroupFs){.version = version};
        if (version != 1 && version != 2)
                return err_set(e, EINVAL, "cgroup version must be 1 or 2, not %d", version);
        const char *path = mounts_path ? mounts_path : CGROUP_MOUNTS;
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, CGROUP_MOUNTS_MAX, &text, NULL);
        if (r < 0)
                return err_set(e, -r, "cannot read %s: %s", path, strerror(-r));
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *dir, *type, *opts;
                if (!mounts_split(l, &dir, &type, &opts))
                        continue;
                int v = !strcmp(type, "cgroup2") ? 2 : !strcmp(type, "cgroup") ? 1 : 0;
                if (v == version && (r = mounts_add(ret, v, dir, opts)) < 0) {
                        cgroup_fs_free(ret);
                        return err_set(e, -r, "out of memory");
                }
        }
        if (!ret->unified && ret->n_v1 == 0)
                return err_set(e, ENOENT, "No hierarchy found for cgroup version %d.", version);
        return 0;
}

void cgroup_fs_free(CgroupFs *fs)
{
        if (!fs)
                return;
        free(fs->unified);
        for (size_t i = 0; i < fs->n_v1; i++) {
                free(fs->v1[i].dir);
                free(fs->v1[i].opts);
        }
        *fs = (CgroupFs){0};
}

/* Is word one of the comma- or space-separated items of list? */
static bool list_has(const char *list, const char *word, const char *seps)
{
        size_t n = strlen(word);
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, seps);
                if (len == n && !strncmp(p, word, n))
                        return true;
                p += len;
                p += strspn(p, seps);
        }
        return false;
}

static const char *v1_mount_of(const CgroupFs *fs, const char *controller)
{
        for (size_t i = 0; i < fs->n_v1; i++)
                if (list_has(fs->v1[i].opts, controller, ","))
                        return fs->v1[i].dir;
        return NULL;
}

static bool v2_offers(const CgroupFs *fs, const char *const *controllers)
{
        _cleanup_free_ char *path = NULL, *list = NULL;
        if (asprintf(&path, "%s/cgroup.controllers", fs->unified) < 0)
                return false;
        if (read_file(path, CGROUP_LINE_MAX, &list, NULL) < 0)
                return false;
        for (size_t i = 0; controllers[i]; i++)
                if (!list_has(list, controllers[i], " \n"))
                        return false;
        return true;
}

int cgroup_detect(const char *mounts_path, const char *const *controllers)
{
        CgroupFs fs;
        if (cgroup_fs_load(mounts_path, 2, &fs, NULL) >= 0) {
                bool ok = v2_offers(&fs, controllers);
                cgroup_fs_free(&fs);
                if (ok)
                        return 2;
        }
        if (cgroup_fs_load(mounts_path, 1, &fs, NULL) < 0)
                return -ENOENT;
        bool all = true;
        for (size_t i = 0; controllers[i]; i++)
                all = all && v1_mount_of(&fs, controllers[i]);
        cgroup_fs_free(&fs);
        return all ? 1 : -ENOENT;
}

/* ---- names ---- */

int cgroup_controller_of(const char *file, char *out, size_t size)
{
        const char *dot = strchr(file, '.');
        if (!dot || dot == file || !dot[1] || strchr(dot + 1, '.') || strchr(file, '/'))
                return -EINVAL;
        size_t n = (size_t)(dot - file);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(out, file, n);
        out[n] = 0;
        return 0;
}

bool cgroup_parent_valid(const char *parent)
{
        if (!parent || !*parent || parent[0] == '/')
                return false;
        unsigned depth = 0;
        for (const char *p = parent; *p;) {
                size_t len = strcspn(p, "/");
                if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2)))
                        return false;
                if (++depth > CGROUP_PARENT_DEPTH)
                        return false;
                p += len;
                if (*p == '/')
                        p++;
        }
        return parent[strlen(parent) - 1] != '/';
}

static const char *mount_for(const CgroupFs *fs, const char *controller)
{
        return fs->version == 2 ? fs->unified : v1_mount_of(fs, controller);
}

int cgroup_dir(const CgroupFs *fs, const char *controller, const char *parent, const char *id,
               char **ret)
{
        const char *m = mount_for(fs, controller);
        if (!m)
                return -ENOENT;
        return asprintf(ret, "%s/%s/%s", m, parent, id) < 0 ? -ENOMEM : 0;
}

/* ---- files ---- */

/* Writes "value\n" to an existing file (cgroupfs offers every knob it has). */
static int knob_write(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY); /* as `>` */
        if (fd < 0)
                return -errno;
        char line[CGROUP_VALUE_MAX + 2];
        int n = snprintf(line, sizeof(line), "%s\n", value);
        if (n < 0 || (size_t)n >= sizeof(line))
                return -E2BIG;
        ssize_t w = write(fd, line, (size_t)n);
        return w < 0 ? -errno : w != n ? -EIO : 0;
}

/* The first line of dir/file, "" when empty. */
static int knob_read(const char *dir, const char *file, char *out, size_t size)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        int r = read_file(path, CGROUP_LINE_MAX, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        if (strlen(text) >= size)
                return -E2BIG;
        strcpy(out, text);
        return 0;
}

/* Firecracker's inherit_from_parent: leaf/file gets the first line of its parent's file;
 * an empty parent first inherits from its own parent, up to depth levels. */
static int v1_inherit(const char *leaf, const char *file, unsigned depth)
{
        _cleanup_free_ char *parent = strdup(leaf);
        if (!parent)
                return -ENOMEM;
        char *slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return -EINVAL;
        *slash = 0;
        char line[CGROUP_VALUE_MAX];
        int r = knob_read(parent, file, line, sizeof(line));
        if (r >= 0 && !line[0] && depth > 0) {
                (void)v1_inherit(parent, file, depth - 1); /* another jailer may win: fine */
                r = knob_read(parent, file, line, sizeof(line));
        }
        if (r < 0)
                return r;
        if (!line[0])
                return -ENODATA;
        return knob_write(leaf, file, line);
}

/* v2: "+controller" into cgroup.subtree_control of dir and every ancestor that has one,
 * the topmost first (Firecracker's write_all_subtree_control). */
static int v2_enable(const char *dir, const char *controller)
{
        _cleanup_free_ char *ctl = NULL;
        if (asprintf(&ctl, "%s/cgroup.subtree_control", dir) < 0)
                return -ENOMEM;
        if (access(ctl, F_OK) < 0)
                return 0; /* above the mount */
        _cleanup_free_ char *up = strdup(dir);
        if (!up)
                return -ENOMEM;
        char *slash = strrchr(up, '/');
        if (slash && slash != up) {
                *slash = 0;
                int r = v2_enable(up, controller);
                if (r < 0)
                        return r;
        }
        char plus[64];
        snprintf(plus, sizeof(plus), "+%s", controller);
        return knob_write(dir, "cgroup.subtree_control", plus);
}

static unsigned depth_of(const char *parent)
{
        unsigned n = 1;
        for (const char *p = parent; *p; p++)
                n += *p == '/';
        return n;
}

int cgroup_write(const CgroupFs *fs, const char *parent, const char *id, const char *file,
                 const char *value, Err *e)
{
        char ctl[64];
        _cleanup_free_ char *dir = NULL;
        if (cgroup_controller_of(file, ctl, sizeof(ctl)) < 0)
                return err_set(e, EINVAL, "cgroup file '%s' is not <controller>.<property>", file);
        int r = cgroup_dir(fs, ctl, parent, id, &dir);
        if (r == -ENOENT)
                return err_set(e, ENOENT, "cgroup controller '%s' is not available (cgroup v%d)",
                               ctl, fs->version);
        if (r < 0)
                return err_set(e, -r, "out of memory");
        if ((r = mkdir_p(dir, 0755)) < 0)
                return err_set(e, -r, "cannot create cgroup %s: %s", dir, strerror(-r));
        if (fs->version == 1) {
                r = v1_inherit(dir, file, depth_of(parent));
        } else {
                _cleanup_free_ char *up = strdup(dir);
                char *slash = up ? strrchr(up, '/') : NULL;
                if (!slash)
                        return err_set(e, ENOMEM, "out of memory");
                *slash = 0;
                r = v2_enable(up, ctl);
        }
        if (r < 0)
                return err_set(e, -r, "cgroup %s: cannot prepare %s: %s", dir, file, strerror(-r));
        if ((r = knob_write(dir, file, value)) < 0)
                return err_set(e, -r, "cgroup %s: cannot write '%s' to %s: %s", dir, value, file,
                               strerror(-r));
        return 0;
}

int cgroup_attach(const CgroupFs *fs, const char *parent, const char *id, const char *file,
                  pid_t pid, Err *e)
{
        char ctl[64], num[24];
        _cleanup_free_ char *dir = NULL;
        if (cgroup_controller_of(file, ctl, sizeof(ctl)) < 0 ||
            cgroup_dir(fs, ctl, parent, id, &dir) < 0)
                return err_set(e, EINVAL, "no cgroup for '%s'", file);
        snprintf(num, sizeof(num), "%d", (int)pid);
        int r = knob_write(dir, fs->version == 1 ? "tasks" : "cgroup.procs", num);
        if (r < 0)
                return err_set(e, -r, "cannot move pid %d into %s: %s", (int)pid, dir, strerror(-r));
        return 0;
}

static int rmdir_wait(const char *dir, int64_t deadline)
{
        for (;;) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY || now_ms() >= deadline)
                        return -errno;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

int cgroup_remove(const CgroupFs *fs, const char *parent, const char *id)
{
        int64_t deadline = now_ms() + CGROUP_RMDIR_WAIT_MS;
        int ret = 0;
        size_t n = fs->version == 2 ? 1 : fs->n_v1;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;
                const char *m = fs->version == 2 ? fs->unified : fs->v1[i].dir;
                if (!m || asprintf(&dir, "%s/%s/%s", m, parent, id) < 0)
                        continue;
                int r = rmdir_wait(dir, deadline);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

/* ---- settings ---- */

int cgroup_setting_parse(const char *arg, CgroupSetting *ret, Err *e)
{
        const char *eq = strchr(arg, '=');
        char ctl[64];
        *ret = (CgroupSetting){0};
        if (!eq || strchr(eq + 1, '=') || !eq[1] || (size_t)(eq - arg) >= sizeof(ret->file))
                return err_set(e, EINVAL, "Invalid format for cgroups: %s", arg);
        memcpy(ret->file, arg, (size_t)(eq - arg));
        if (strlen(eq + 1) >= sizeof(ret->value) || strpbrk(eq + 1, "\n"))
                return err_set(e, EINVAL, "Invalid format for cgroups: %s", arg);
        strcpy(ret->value, eq + 1);
        if (cgroup_controller_of(ret->file, ctl, sizeof(ctl)) < 0)
                return err_set(e, EINVAL, "Invalid cgroup file: %s", ret->file);
        return 0;
}

static size_t setting_add(CgroupSetting *out, size_t n, size_t max, const char *file,
                          unsigned long long v)
{
        if (n >= max)
                return n;
        snprintf(out[n].file, sizeof(out[n].file), "%s", file);
        snprintf(out[n].value, sizeof(out[n].value), "%llu", v);
        return n + 1;
}

#define CGROUP_CPU_PERIOD_US 100000ull

size_t cgroup_limits_settings(int version, const CgroupLimits *l, CgroupSetting *out, size_t max)
{
        size_t n = 0;
        unsigned long long quota = (unsigned long long)l->cpu_pct * CGROUP_CPU_PERIOD_US / 100;
        if (l->cpu_pct && version == 2 && n < max) {
                snprintf(out[n].file, sizeof(out[n].file), "cpu.max");
                snprintf(out[n].value, sizeof(out[n].value), "%llu %llu", MAX(quota, 1000ull),
                         CGROUP_CPU_PERIOD_US);
                n++;
        } else if (l->cpu_pct) {
                n = setting_add(out, n, max, "cpu.cfs_period_us", CGROUP_CPU_PERIOD_US);
                n = setting_add(out, n, max, "cpu.cfs_quota_us", MAX(quota, 1000ull));
        }
        if (l->memory_bytes)
                n = setting_add(out, n, max, version == 2 ? "memory.max" : "memory.limit_in_bytes",
                                l->memory_bytes);
        if (l->pids_max)
                n = setting_add(out, n, max, "pids.max", l->pids_max);
        return n;
}
