/* proto.h — the agent protocol between emberd (host) and emberd-init (guest).
 *
 * One vsock stream per exec (or per ping). Every frame is an 8-byte header
 *   u8 version (PROTO_VERSION) | u8 type | u16 flags (0) | u32 payload length, little endian
 * followed by the payload. Each type has a hard maximum payload (proto_max_payload()),
 * checked before anything is allocated. No JSON inside the guest.
 *
 * Conversation:  host PING            -> guest PONG (TLV: agent version, pid...)
 *                host EXEC, STDIN*, STDIN_EOF, [KILL]
 *                                     -> guest STDOUT* / STDERR* ... then EXIT or ERROR, close.
 * The guest is untrusted: the host bounds every frame, every byte count and every wait.
 * Compatibility within version 1: new EXEC tags are sent only when set (an agent that does
 * not know a tag refuses the EXEC: emberd and emberd-init ship together); new EXIT flags
 * are bits an older host ignores, chosen so that an older agent's 0 means "not done". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define PROTO_VERSION 1
#define PROTO_HDR_SIZE 8

typedef enum ProtoType {
        PROTO_PING = 1,
        PROTO_PONG = 2,
        PROTO_EXEC = 3,
        PROTO_STDIN = 4,
        PROTO_STDIN_EOF = 5,
        PROTO_STDOUT = 6,
        PROTO_STDERR = 7,
        PROTO_EXIT = 8,
        PROTO_ERROR = 9,
        PROTO_KILL = 10,
        _PROTO_TYPE_MAX,
} ProtoType;

typedef struct ProtoHdr {
        uint8_t version;
        uint8_t type;
        uint16_t flags;
        uint32_t len;
} ProtoHdr;

typedef struct ProtoFrame {
        ProtoHdr hdr;
        uint8_t *payload; /* malloc'd, NUL-terminated one past len for convenience */
} ProtoFrame;

const char *proto_type_name(unsigned type);
/* Largest payload allowed for a type; 0 for unknown types (and for empty-payload types). */
uint32_t proto_max_payload(unsigned type);
/* Parses and validates a header: -EPROTONOSUPPORT (version), -EBADMSG (type/flags),
 * -EMSGSIZE (length over the type's limit). */
int proto_hdr_parse(const uint8_t raw[PROTO_HDR_SIZE], ProtoHdr *ret);
void proto_hdr_pack(uint8_t raw[PROTO_HDR_SIZE], unsigned type, uint32_t len);

/* Blocking I/O with a deadline (CLOCK_MONOTONIC ms, <0 = none). read returns -EPIPE on a
 * clean EOF before the header. */
int proto_write_frame(int fd, unsigned type, const void *payload, size_t len, int64_t deadline_ms);
int proto_read_frame(int fd, ProtoFrame *ret, int64_t deadline_ms);
void proto_frame_free(ProtoFrame *f);

/* ---- EXEC request: TLV list, each u16 tag | u16 0 | u32 len | value. Strings carry their
 * trailing NUL and may not contain another one; integers are u32 LE. */
enum {
        EXEC_TAG_ARG = 1,        /* repeatable, argv in order */
        EXEC_TAG_ENV = 2,        /* repeatable, "KEY=VALUE" */
        EXEC_TAG_CWD = 3,
        EXEC_TAG_TIMEOUT_MS = 4,
        EXEC_TAG_STDOUT_CAP = 5,
        EXEC_TAG_STDERR_CAP = 6,
        EXEC_TAG_CODE = 7,       /* bytes: written to a file whose path is appended to argv */
        EXEC_TAG_CODE_NAME = 8,  /* file name for CODE, e.g. "main.py" */
        EXEC_TAG_MEMORY_LIMIT_MIB = 9, /* u32: the exec's memory.max; absent/0 = none */
        EXEC_TAG_PIDS_LIMIT = 10,      /* u32: the exec's pids.max; absent/0 = none */
};

typedef struct ProtoExec {
        const char **argv; /* argc entries (decoder: allocated array, strings point into payload) */
        uint32_t argc;
        const char **env;
        uint32_t envc;
        const char *cwd;   /* NULL = agent default */
        uint32_t timeout_ms;
        uint32_t stdout_cap, stderr_cap;
        const uint8_t *code; /* NULL when argv is run as is */
        uint32_t code_len;
        const char *code_name;
        uint32_t memory_limit_mib; /* 0 = no per-exec limit (the VM's memory bounds it) */
        uint32_t pids_limit;       /* 0 = no per-exec limit */
} ProtoExec;

/* Encodes into a malloc'd buffer; -E2BIG when a limit of limits.h is exceeded. */
int proto_exec_encode(const ProtoExec *x, uint8_t **ret, size_t *ret_len);
/* Decodes a payload (kept alive by the caller); strict: unknown tags, bad strings,
 * duplicate scalars, missing argv -> -EBADMSG. Free with proto_exec_clear(). */
int proto_exec_decode(const uint8_t *p, size_t len, ProtoExec *ret);
void proto_exec_clear(ProtoExec *x);

/* ---- EXIT: fixed little-endian record. */
enum {
        EXIT_F_TIMED_OUT = 1u << 0,
        EXIT_F_STDOUT_TRUNC = 1u << 1,
        EXIT_F_STDERR_TRUNC = 1u << 2,
        EXIT_F_OOM = 1u << 3,        /* a process of the exec was killed by the OOM killer */
        EXIT_F_PIDS_LIMIT = 1u << 4, /* a fork/clone of the exec failed at its pids limit */
        /* The exec ran in its own cgroup with the memory and pids controllers: its limits
         * applied, OOM and PIDS_LIMIT are reliable, cpu_time and peak_rss cover every
         * process of the exec. Without it (no usable cgroup v2, e.g. the process engine)
         * the limits were not enforced and the figures are the main process's rusage. */
        EXIT_F_LIMITS_ENFORCED = 1u << 5,
};
typedef struct ProtoExit {
        int32_t exit_code;   /* -1 when killed by a signal */
        int32_t signal;      /* 0 when it exited */
        uint32_t flags;
        uint64_t duration_us;
        uint64_t cpu_time_us;  /* user + system */
        uint64_t peak_rss_kib; /* cgroup: memory.peak of the exec; else the main process's ru_maxrss */
        uint64_t stdout_bytes; /* total produced, including what was dropped */
        uint64_t stderr_bytes;
} ProtoExit;
#define PROTO_EXIT_SIZE 52
void proto_exit_pack(const ProtoExit *x, uint8_t out[PROTO_EXIT_SIZE]);
int proto_exit_unpack(const uint8_t *p, size_t len, ProtoExit *ret); /* -EBADMSG */

/* ---- The verdict of an exec, from its EXIT record. One status; precedence (first wins):
 * timeout > oom > pids_limit > output_limit > signal > exit_nonzero > ok. output_limit
 * means a stream was truncated (flags STDOUT/STDERR_TRUNC; the host ORs in its own
 * truncation): the program is not killed for it. */
typedef enum ExecStatus {
        EXEC_STATUS_OK,
        EXEC_STATUS_EXIT_NONZERO,
        EXEC_STATUS_SIGNAL,
        EXEC_STATUS_OUTPUT_LIMIT,
        EXEC_STATUS_PIDS_LIMIT,
        EXEC_STATUS_OOM,
        EXEC_STATUS_TIMEOUT,
        _EXEC_STATUS_MAX,
} ExecStatus;
ExecStatus proto_exit_status(const ProtoExit *x);
const char *proto_exec_status_name(ExecStatus s); /* "ok", "exit_nonzero", ..., "timeout" */

/* ---- ERROR: u32 errno | message bytes (not NUL-terminated, <= PROTO_MAX_SMALL-4). */
int proto_error_unpack(const uint8_t *p, size_t len, uint32_t *ret_errno, const char **ret_msg,
                       size_t *ret_msg_len);

/* ---- PONG: TLV like EXEC, tags below; unknown tags are ignored (forward compatible). */
enum { PONG_TAG_AGENT_VERSION = 1, PONG_TAG_UPTIME_MS = 2 };
