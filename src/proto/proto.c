/* proto.c — framing and record codecs of the agent protocol (see proto.h).
 * Pure functions plus two blocking I/O helpers; no logging, no policy. */
#include "proto.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/cleanup.h"
#include "../shared/util.h"

static const struct {
        const char *name;
        uint32_t max;
} type_table[_PROTO_TYPE_MAX] = {
        [PROTO_PING] = {"ping", 0},
        [PROTO_PONG] = {"pong", PROTO_MAX_SMALL},
        [PROTO_EXEC] = {"exec", PROTO_MAX_EXEC},
        [PROTO_STDIN] = {"stdin", PROTO_MAX_DATA},
        [PROTO_STDIN_EOF] = {"stdin_eof", 0},
        [PROTO_STDOUT] = {"stdout", PROTO_MAX_DATA},
        [PROTO_STDERR] = {"stderr", PROTO_MAX_DATA},
        [PROTO_EXIT] = {"exit", PROTO_MAX_SMALL},
        [PROTO_ERROR] = {"error", PROTO_MAX_SMALL},
        [PROTO_KILL] = {"kill", 0},
};

const char *proto_type_name(unsigned type)
{
        return type < _PROTO_TYPE_MAX && type_table[type].name ? type_table[type].name : "unknown";
}

uint32_t proto_max_payload(unsigned type) { return type < _PROTO_TYPE_MAX ? type_table[type].max : 0; }

int proto_hdr_parse(const uint8_t raw[PROTO_HDR_SIZE], ProtoHdr *ret)
{
        ProtoHdr h = {
                .version = raw[0],
                .type = raw[1],
                .flags = (uint16_t)(raw[2] | raw[3] << 8),
        };
        memcpy(&h.len, raw + 4, 4);
        h.len = le32toh(h.len);
        if (h.version != PROTO_VERSION)
                return -EPROTONOSUPPORT;
        if (h.type == 0 || h.type >= _PROTO_TYPE_MAX || h.flags != 0)
                return -EBADMSG;
        if (h.len > type_table[h.type].max)
                return -EMSGSIZE;
        *ret = h;
        return 0;
}

void proto_hdr_pack(uint8_t raw[PROTO_HDR_SIZE], unsigned type, uint32_t len)
{
        raw[0] = PROTO_VERSION;
        raw[1] = (uint8_t)type;
        raw[2] = raw[3] = 0;
        uint32_t le = htole32(len);
        memcpy(raw + 4, &le, 4);
}

int proto_write_frame(int fd, unsigned type, const void *payload, size_t len, int64_t deadline_ms)
{
        if (len > proto_max_payload(type))
                return -EMSGSIZE;
        uint8_t hdr[PROTO_HDR_SIZE];
        proto_hdr_pack(hdr, type, (uint32_t)len);
        int r = fd_write_all(fd, hdr, sizeof(hdr), deadline_ms);
        if (r < 0 || len == 0)
                return r;
        return fd_write_all(fd, payload, len, deadline_ms);
}

int proto_read_frame(int fd, ProtoFrame *ret, int64_t deadline_ms)
{
        uint8_t raw[PROTO_HDR_SIZE];
        ProtoFrame f = {0};
        int r = fd_read_exact(fd, raw, sizeof(raw), deadline_ms);
        if (r < 0)
                return r;
        r = proto_hdr_parse(raw, &f.hdr);
        if (r < 0)
                return r;
        f.payload = malloc(f.hdr.len + 1);
        if (!f.payload)
                return -ENOMEM;
        r = fd_read_exact(fd, f.payload, f.hdr.len, deadline_ms);
        if (r < 0) {
                free(f.payload);
                return r == -EPIPE ? -EBADMSG : r; /* EOF inside a frame is a broken frame */
        }
        f.payload[f.hdr.len] = 0;
        *ret = f;
        return 0;
}

void proto_frame_free(ProtoFrame *f)
{
        free(f->payload);
        f->payload = NULL;
}

/* ---- TLV helpers ---- */

typedef struct Tlv {
        uint8_t *p;
        size_t len, alloc;
} Tlv;

static int tlv_put(Tlv *t, uint16_t tag, const void *v, size_t n)
{
        if (t->len + 8 + n > PROTO_MAX_EXEC)
                return -E2BIG;
        if (t->len + 8 + n > t->alloc) {
                size_t na = MAX(t->alloc * 2, t->len + 8 + n + 256);
                uint8_t *np = realloc(t->p, na);
                if (!np)
                        return -ENOMEM;
                t->p = np;
                t->alloc = na;
        }
        uint16_t tle = htole16(tag);
        uint32_t lle = htole32((uint32_t)n);
        memcpy(t->p + t->len, &tle, 2);
        memset(t->p + t->len + 2, 0, 2);
        memcpy(t->p + t->len + 4, &lle, 4);
        if (n)
                memcpy(t->p + t->len + 8, v, n);
        t->len += 8 + n;
        return 0;
}

static int tlv_put_str(Tlv *t, uint16_t tag, const char *s)
{
        size_t n = strlen(s) + 1;
        if (n > PROTO_MAX_STRING)
                return -E2BIG;
        return tlv_put(t, tag, s, n);
}

static int tlv_put_u32(Tlv *t, uint16_t tag, uint32_t v)
{
        uint32_t le = htole32(v);
        return tlv_put(t, tag, &le, 4);
}

int proto_exec_encode(const ProtoExec *x, uint8_t **ret, size_t *ret_len)
{
        if (x->argc > PROTO_MAX_ARGS || x->envc > PROTO_MAX_ENV || x->code_len > PROTO_MAX_CODE)
                return -E2BIG;
        if (x->argc == 0 && !x->code)
                return -EINVAL;
        Tlv t = {0};
        int r = 0;
        for (uint32_t i = 0; r >= 0 && i < x->argc; i++)
                r = tlv_put_str(&t, EXEC_TAG_ARG, x->argv[i]);
        for (uint32_t i = 0; r >= 0 && i < x->envc; i++)
                r = tlv_put_str(&t, EXEC_TAG_ENV, x->env[i]);
        if (r >= 0 && x->cwd)
                r = tlv_put_str(&t, EXEC_TAG_CWD, x->cwd);
        if (r >= 0)
                r = tlv_put_u32(&t, EXEC_TAG_TIMEOUT_MS, x->timeout_ms);
        if (r >= 0)
                r = tlv_put_u32(&t, EXEC_TAG_STDOUT_CAP, x->stdout_cap);
        if (r >= 0)
                r = tlv_put_u32(&t, EXEC_TAG_STDERR_CAP, x->stderr_cap);
        if (r >= 0 && x->code)
                r = tlv_put(&t, EXEC_TAG_CODE, x->code, x->code_len);
        if (r >= 0 && x->code && x->code_name)
                r = tlv_put_str(&t, EXEC_TAG_CODE_NAME, x->code_name);
        /* only when set: an agent without limits support still runs unlimited execs */
        if (r >= 0 && x->memory_limit_mib)
                r = tlv_put_u32(&t, EXEC_TAG_MEMORY_LIMIT_MIB, x->memory_limit_mib);
        if (r >= 0 && x->pids_limit)
                r = tlv_put_u32(&t, EXEC_TAG_PIDS_LIMIT, x->pids_limit);
        if (r < 0) {
                free(t.p);
                return r;
        }
        *ret = t.p;
        *ret_len = t.len;
        return 0;
}

/* A string value: ends with its only NUL. */
static int tlv_str(const uint8_t *v, uint32_t n, const char **ret)
{
        if (n == 0 || n > PROTO_MAX_STRING || v[n - 1] != 0 || memchr(v, 0, n - 1))
                return -EBADMSG;
        *ret = (const char *)v;
        return 0;
}

static int tlv_u32(const uint8_t *v, uint32_t n, uint32_t *ret)
{
        if (n != 4)
                return -EBADMSG;
        uint32_t le;
        memcpy(&le, v, 4);
        *ret = le32toh(le);
        return 0;
}

static int push_str(const char ***arr, uint32_t *n, uint32_t max, const char *s)
{
        if (*n >= max)
                return -EBADMSG;
        const char **na = realloc(*arr, sizeof(char *) * (*n + 2));
        if (!na)
                return -ENOMEM;
        na[(*n)++] = s;
        na[*n] = NULL;
        *arr = na;
        return 0;
}

static int exec_field(ProtoExec *x, uint16_t tag, const uint8_t *v, uint32_t n, uint32_t *seen)
{
        const char *s;
        int r;
        if (tag != EXEC_TAG_ARG && tag != EXEC_TAG_ENV) {
                if (tag >= 32 || (*seen & (1u << tag)))
                        return -EBADMSG; /* unknown or duplicated scalar */
                *seen |= 1u << tag;
        }
        switch (tag) {
        case EXEC_TAG_ARG:
                return (r = tlv_str(v, n, &s)) < 0 ? r : push_str(&x->argv, &x->argc, PROTO_MAX_ARGS, s);
        case EXEC_TAG_ENV:
                if ((r = tlv_str(v, n, &s)) < 0)
                        return r;
                if (!strchr(s, '=') || s[0] == '=')
                        return -EBADMSG;
                return push_str(&x->env, &x->envc, PROTO_MAX_ENV, s);
        case EXEC_TAG_CWD: return tlv_str(v, n, &x->cwd);
        case EXEC_TAG_TIMEOUT_MS: return tlv_u32(v, n, &x->timeout_ms);
        case EXEC_TAG_STDOUT_CAP: return tlv_u32(v, n, &x->stdout_cap);
        case EXEC_TAG_STDERR_CAP: return tlv_u32(v, n, &x->stderr_cap);
        case EXEC_TAG_MEMORY_LIMIT_MIB: return tlv_u32(v, n, &x->memory_limit_mib);
        case EXEC_TAG_PIDS_LIMIT: return tlv_u32(v, n, &x->pids_limit);
        case EXEC_TAG_CODE:
                if (n > PROTO_MAX_CODE)
                        return -EBADMSG;
                x->code = v;
                x->code_len = n;
                return 0;
        case EXEC_TAG_CODE_NAME:
                if ((r = tlv_str(v, n, &x->code_name)) < 0)
                        return r;
                /* a bare file name: no path tricks inside the guest's exec directory */
                if (strchr(x->code_name, '/') || !strcmp(x->code_name, ".") ||
                    !strcmp(x->code_name, "..") || n > 256)
                        return -EBADMSG;
                return 0;
        default: return -EBADMSG;
        }
}

int proto_exec_decode(const uint8_t *p, size_t len, ProtoExec *ret)
{
        ProtoExec x = {0};
        uint32_t seen = 0;
        size_t off = 0;
        int r = 0;
        if (len > PROTO_MAX_EXEC)
                return -EMSGSIZE;
        while (r >= 0 && off < len) {
                if (len - off < 8) {
                        r = -EBADMSG;
                        break;
                }
                uint16_t tag, zero;
                uint32_t n;
                memcpy(&tag, p + off, 2);
                memcpy(&zero, p + off + 2, 2);
                memcpy(&n, p + off + 4, 4);
                tag = le16toh(tag);
                n = le32toh(n);
                off += 8;
                if (zero != 0 || n > len - off) {
                        r = -EBADMSG;
                        break;
                }
                r = exec_field(&x, tag, p + off, n, &seen);
                off += n;
        }
        if (r >= 0 && x.argc == 0 && !x.code)
                r = -EBADMSG;
        if (r >= 0 && x.code_name && !x.code)
                r = -EBADMSG;
        if (r < 0) {
                proto_exec_clear(&x);
                return r;
        }
        *ret = x;
        return 0;
}

void proto_exec_clear(ProtoExec *x)
{
        free(x->argv);
        free(x->env);
        *x = (ProtoExec){0};
}

/* ---- EXIT ---- */

static void put32(uint8_t *o, uint32_t v)
{
        v = htole32(v);
        memcpy(o, &v, 4);
}
static void put64(uint8_t *o, uint64_t v)
{
        v = htole64(v);
        memcpy(o, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return le32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return le64toh(v);
}

void proto_exit_pack(const ProtoExit *x, uint8_t out[PROTO_EXIT_SIZE])
{
        put32(out, (uint32_t)x->exit_code);
        put32(out + 4, (uint32_t)x->signal);
        put32(out + 8, x->flags);
        put64(out + 12, x->duration_us);
        put64(out + 20, x->cpu_time_us);
        put64(out + 28, x->peak_rss_kib);
        put64(out + 36, x->stdout_bytes);
        put64(out + 44, x->stderr_bytes);
}

int proto_exit_unpack(const uint8_t *p, size_t len, ProtoExit *ret)
{
        /* newer agents may append fields; older records are refused */
        if (len < PROTO_EXIT_SIZE)
                return -EBADMSG;
        ProtoExit x = {
                .exit_code = (int32_t)get32(p),
                .signal = (int32_t)get32(p + 4),
                .flags = get32(p + 8),
                .duration_us = get64(p + 12),
                .cpu_time_us = get64(p + 20),
                .peak_rss_kib = get64(p + 28),
                .stdout_bytes = get64(p + 36),
                .stderr_bytes = get64(p + 44),
        };
        if (x.signal < 0 || x.signal > 64 || x.exit_code < -1 || x.exit_code > 255 ||
            (x.signal != 0) != (x.exit_code == -1))
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* ---- verdict ---- */

static const char *const exec_status_names[_EXEC_STATUS_MAX] = {
        [EXEC_STATUS_OK] = "ok",
        [EXEC_STATUS_EXIT_NONZERO] = "exit_nonzero",
        [EXEC_STATUS_SIGNAL] = "signal",
        [EXEC_STATUS_OUTPUT_LIMIT] = "output_limit",
        [EXEC_STATUS_PIDS_LIMIT] = "pids_limit",
        [EXEC_STATUS_OOM] = "oom",
        [EXEC_STATUS_TIMEOUT] = "timeout",
};

/* Highest precedence first; below them come signal, exit_nonzero, ok. */
static const struct {
        ExecStatus status;
        uint32_t flags; /* any of these set */
} status_rules[] = {
        {EXEC_STATUS_TIMEOUT, EXIT_F_TIMED_OUT},
        {EXEC_STATUS_OOM, EXIT_F_OOM},
        {EXEC_STATUS_PIDS_LIMIT, EXIT_F_PIDS_LIMIT},
        {EXEC_STATUS_OUTPUT_LIMIT, EXIT_F_STDOUT_TRUNC | EXIT_F_STDERR_TRUNC},
};

ExecStatus proto_exit_status(const ProtoExit *x)
{
        for (size_t i = 0; i < ELEMENTSOF(status_rules); i++)
                if (x->flags & status_rules[i].flags)
                        return status_rules[i].status;
        if (x->signal != 0)
                return EXEC_STATUS_SIGNAL;
        return x->exit_code != 0 ? EXEC_STATUS_EXIT_NONZERO : EXEC_STATUS_OK;
}

const char *proto_exec_status_name(ExecStatus s)
{
        return (unsigned)s < _EXEC_STATUS_MAX ? exec_status_names[s] : "unknown";
}

int proto_error_unpack(const uint8_t *p, size_t len, uint32_t *ret_errno, const char **ret_msg,
                       size_t *ret_msg_len)
{
        if (len < 4 || len > PROTO_MAX_SMALL)
                return -EBADMSG;
        *ret_errno = get32(p);
        *ret_msg = (const char *)p + 4;
        *ret_msg_len = len - 4;
        return 0;
}
