/* record.c — the sandbox record file (see record.h): one field table, read both ways.
 * The record is written by this emberd, yet a crash can cut it and a disk can corrupt it:
 * reading checks every field's type and range and treats anything else as no record.
 * Must not act on a record: adoption and cleanup are recovery.c's. */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shared/util.h"

/* ---- one codec per kind of field ---- */

typedef struct RecordField RecordField;
typedef struct FieldCodec {
        json_t *(*encode)(const void *src, const RecordField *f);
        int (*decode)(json_t *v, void *dst, const RecordField *f); /* 0 or -EBADMSG */
} FieldCodec;

struct RecordField {
        const char *name;
        const FieldCodec *codec;
        size_t off, size; /* size: of a char[] field */
        int64_t max;      /* of an integer field */
};

static json_t *str_encode(const void *src, const RecordField *f) { return json_string(src); }
static int str_decode(json_t *v, void *dst, const RecordField *f)
{
        const char *s = json_string_value(v);
        if (!s || !s[0] || strlen(s) >= f->size || strlen(s) != json_string_length(v))
                return -EBADMSG;
        memcpy(dst, s, strlen(s) + 1);
        return 0;
}

static json_t *uint_encode(const void *src, const RecordField *f)
{
        return json_integer(*(const unsigned *)src);
}
static int uint_decode(json_t *v, void *dst, const RecordField *f)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > f->max)
                return -EBADMSG;
        *(unsigned *)dst = (unsigned)json_integer_value(v);
        return 0;
}

static json_t *i64_encode(const void *src, const RecordField *f)
{
        return json_integer(*(const int64_t *)src);
}
static int i64_decode(json_t *v, void *dst, const RecordField *f)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > f->max)
                return -EBADMSG;
        *(int64_t *)dst = json_integer_value(v);
        return 0;
}

static json_t *state_encode(const void *src, const RecordField *f)
{
        return json_string(sandbox_state_name(*(const SandboxState *)src));
}
static int state_decode(json_t *v, void *dst, const RecordField *f)
{
        static const SandboxState recorded[] = {SANDBOX_CREATING, SANDBOX_READY};
        for (size_t i = 0; i < ELEMENTSOF(recorded); i++)
                if (json_is_string(v) &&
                    !strcmp(json_string_value(v), sandbox_state_name(recorded[i]))) {
                        *(SandboxState *)dst = recorded[i];
                        return 0;
                }
        return -EBADMSG;
}

static json_t *env_encode(const void *src, const RecordField *f)
{
        char *const *env = *(char *const *const *)src;
        json_t *a = json_array();
        for (size_t i = 0; a && env && env[i]; i++)
                if (json_array_append_new(a, json_string(env[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}
static int env_decode(json_t *v, void *dst, const RecordField *f)
{
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n > SANDBOX_ENV_MAX)
                return -EBADMSG;
        char **env = calloc(n + 1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        *(char ***)dst = env; /* freed by record_clear() whatever happens next */
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(v, i);
                const char *kv = json_string_value(s);
                if (!kv || !strchr(kv, '=') || kv[0] == '=' || strlen(kv) >= PROTO_MAX_STRING ||
                    strlen(kv) != json_string_length(s))
                        return -EBADMSG;
                if (!(env[i] = strdup(kv)))
                        return -ENOMEM;
        }
        return 0;
}

static json_t *vm_encode(const void *src, const RecordField *f)
{
        json_t *vm = *(json_t *const *)src;
        return vm ? json_incref(vm) : json_null();
}
static int vm_decode(json_t *v, void *dst, const RecordField *f)
{
        if (!json_is_object(v))
                return -EBADMSG;
        *(json_t **)dst = json_incref(v);
        return 0;
}

static const FieldCodec codec_str = {str_encode, str_decode};
static const FieldCodec codec_uint = {uint_encode, uint_decode};
static const FieldCodec codec_i64 = {i64_encode, i64_decode};
static const FieldCodec codec_state = {state_encode, state_decode};
static const FieldCodec codec_env = {env_encode, env_decode};
static const FieldCodec codec_vm = {vm_encode, vm_decode};

#define F_STR(n, m) {n, &codec_str, offsetof(SandboxRecord, m), sizeof(((SandboxRecord *)0)->m), 0}
#define F_UINT(n, m, mx) {n, &codec_uint, offsetof(SandboxRecord, m), 0, mx}
#define F_I64(n, m) {n, &codec_i64, offsetof(SandboxRecord, m), 0, INT64_MAX / 2}
#define F_ANY(n, m, c) {n, c, offsetof(SandboxRecord, m), 0, 0}

/* Every field is required: a record missing one was not written by this version. */
static const RecordField fields[] = {
        F_STR("id", id),
        F_STR("language_pack", pack),
        F_STR("vmm", vmm),
        F_ANY("state", state, &codec_state),
        F_UINT("vcpus", vcpus, 1024),
        F_UINT("memory_mib", memory_mib, 16u << 20),
        F_UINT("ttl_s", ttl_s, UINT32_MAX),
        F_UINT("agent_port", agent_port, UINT32_MAX),
        F_UINT("boot_ms", boot_ms, UINT32_MAX),
        F_UINT("ready_ms", ready_ms, UINT32_MAX),
        F_I64("created_at_ms", created_at_ms),
        F_I64("expires_at_ms", expires_at_ms),
        F_ANY("env", env, &codec_env),
        F_ANY("vm", vm, &codec_vm),
};

bool record_id_valid(const char *name)
{
        if (strncmp(name, "sb-", 3) || strlen(name) != 3 + 16)
                return false;
        return strspn(name + 3, "0123456789abcdef") == 16;
}

/* ---- write ---- */

static json_t *record_encode(const SandboxRecord *r)
{
        json_t *o = json_pack("{s:i}", "version", RECORD_VERSION);
        for (size_t i = 0; o && i < ELEMENTSOF(fields); i++) {
                const RecordField *f = &fields[i];
                if (json_object_set_new(o, f->name, f->codec->encode((const char *)r + f->off,
                                                                      f)) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static char *record_text(Sandbox *sb, SandboxState state, int64_t expires_at_ms)
{
        pthread_mutex_lock(&sb->lock);
        SandboxRecord rec = {
                .state = state,
                .vcpus = sb->vcpus,
                .memory_mib = sb->memory_mib,
                .ttl_s = sb->ttl_s,
                .agent_port = sb->agent_port,
                .boot_ms = sb->boot_ms,
                .ready_ms = sb->ready_ms,
                .created_at_ms = sb->created_at_ms,
                .expires_at_ms = expires_at_ms,
                .env = sb->env,
                .vm = sb->vm ? fc_vm_save(sb->vm) : NULL,
        };
        pthread_mutex_unlock(&sb->lock);
        snprintf(rec.id, sizeof(rec.id), "%s", sb->id);
        snprintf(rec.pack, sizeof(rec.pack), "%s", sb->pack->name);
        snprintf(rec.vmm, sizeof(rec.vmm), "%s", sb->vmm);
        json_t *o = rec.vm ? record_encode(&rec) : NULL;
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        json_decref(rec.vm);
        return text;
}

/* temp + fsync + rename, so a reader sees the old record or the new one, never a mix;
 * under sb->record_lock, so that record_remove() comes strictly before or after. */
static int record_write_locked(Sandbox *sb, const char *text, Err *e)
{
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        if (asprintf(&path, "%s/" RECORD_FILE, sb->dir) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return err_set(e, ENOMEM, "out of memory");
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return err_set(e, errno, "cannot write the sandbox record %s: %s", tmp,
                               strerror(errno));
        int r = fd_write_all(fd, text, strlen(text), -1);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        /* a delete that began meanwhile wins: its sandbox must not come back after a restart */
        bool deleting = sandbox_get_state(sb) == SANDBOX_DELETING;
        if (r >= 0 && !deleting && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0 || deleting)
                (void)unlink(tmp);
        if (r < 0)
                return err_set(e, -r, "cannot write the sandbox record %s: %s", path,
                               strerror(-r));
        return 0;
}

int record_write(Sandbox *sb, SandboxState state, int64_t expires_at_ms, Err *e)
{
        _cleanup_free_ char *text = record_text(sb, state, expires_at_ms);
        if (!text)
                return err_set(e, ENOMEM, "out of memory");
        pthread_mutex_lock(&sb->record_lock);
        int r = record_write_locked(sb, text, e);
        pthread_mutex_unlock(&sb->record_lock);
        return r;
}

void record_remove(Sandbox *sb)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/" RECORD_FILE, sb->dir) < 0)
                return; /* the teardown removes the directory anyway */
        pthread_mutex_lock(&sb->record_lock);
        (void)unlink(path);
        pthread_mutex_unlock(&sb->record_lock);
}

/* ---- read ---- */

static int record_decode(json_t *o, SandboxRecord *r, Err *e)
{
        json_t *version = json_object_get(o, "version");
        if (!json_is_integer(version) || json_integer_value(version) != RECORD_VERSION)
                return err_set(e, EBADMSG, "version: not %d", RECORD_VERSION);
        if (json_object_size(o) != ELEMENTSOF(fields) + 1)
                return err_set(e, EBADMSG, "unexpected fields");
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const RecordField *f = &fields[i];
                json_t *v = json_object_get(o, f->name);
                int k = v ? f->codec->decode(v, (char *)r + f->off, f) : -EBADMSG;
                if (k < 0)
                        return err_set(e, -k, "%s: %s", f->name,
                                       k == -ENOMEM ? "out of memory" : "missing or invalid");
        }
        return 0;
}

int record_read(const char *dir, const char *id, SandboxRecord *ret, Err *e)
{
        *ret = (SandboxRecord){0};
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len = 0;
        if (asprintf(&path, "%s/" RECORD_FILE, dir) < 0)
                return err_set(e, ENOMEM, "out of memory");
        int r = read_file(path, RECORD_MAX_BYTES, &text, &len);
        if (r < 0)
                return err_set(e, r == -ENOENT ? ENOENT : EBADMSG, "%s: %s", path, strerror(-r));
        json_error_t je;
        json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(o))
                r = err_set(e, EBADMSG, "%s: not a JSON object (%s)", path, o ? "" : je.text);
        else if ((r = record_decode(o, ret, e)) < 0)
                err_prefix(e, "%s", path);
        else if (strcmp(ret->id, id))
                r = err_set(e, EBADMSG, "%s: names sandbox '%s'", path, ret->id);
        json_decref(o);
        if (r < 0)
                record_clear(ret);
        return r;
}

void record_clear(SandboxRecord *r)
{
        for (size_t i = 0; r->env && r->env[i]; i++)
                free(r->env[i]);
        free(r->env);
        json_decref(r->vm);
        *r = (SandboxRecord){0};
}
