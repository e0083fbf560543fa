/* limits.h — every size or count that a client or a guest controls, in one place.
 * Checked before allocating, on both sides of the agent protocol and in the API. */
#pragma once

#define PROTO_MAX_DATA (64u * 1024)          /* one STDIN/STDOUT/STDERR frame */
#define PROTO_MAX_EXEC (3u * 1024 * 1024)    /* one EXEC frame (argv+env+code) */
#define PROTO_MAX_SMALL 4096u                /* PONG, EXIT, ERROR frames */
#define PROTO_MAX_ARGS 4096u
#define PROTO_MAX_ENV 1024u
#define PROTO_MAX_STRING (128u * 1024)       /* one argv/env/cwd string (MAX_ARG_STRLEN) */
#define PROTO_MAX_CODE (1024u * 1024)        /* code of one exec */

#define EXEC_DEFAULT_OUTPUT_CAP (1024u * 1024) /* per stream */
#define EXEC_MAX_OUTPUT_CAP (16u * 1024 * 1024)
#define EXEC_DEFAULT_TIMEOUT_MS 30000u
#define EXEC_MAX_TIMEOUT_MS (3600u * 1000)
#define EXEC_MAX_STDIN (16u * 1024 * 1024)
#define EXEC_MAX_MEMORY_LIMIT_MIB (1024u * 1024) /* per-exec memory.max (1 TiB) */
#define EXEC_MAX_PIDS_LIMIT (4u * 1024 * 1024)   /* per-exec pids.max (PID_MAX_LIMIT) */
/* Host waits this long past timeout_ms for the agent's EXIT before giving up on it. */
#define EXEC_AGENT_GRACE_MS 5000u

#define AGENT_DEFAULT_PORT 52u
