/* agent.h — the typed client of emberd-init's agent over one connected vsock stream
 * (src/proto/proto.h): a readiness ping, and one exec with stdin streaming and output capture.
 * The guest is untrusted: every frame is bounded, output beyond the caps is drained and
 * counted (never buffered), every wait has a deadline. Never logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "../shared/err.h"
#include "../shared/util.h"

typedef struct AgentPong {
        uint32_t agent_version; /* 0 when not announced */
        uint32_t uptime_ms;
} AgentPong;

/* PING -> PONG before deadline_ms. ret may be NULL. */
int agent_ping(int fd, int64_t deadline_ms, AgentPong *ret, Err *e);

typedef struct AgentExecIn {
        const ProtoExec *exec;  /* its timeout_ms and caps are what the agent enforces */
        const uint8_t *stdin_data;
        size_t stdin_len;
        int abort_fd;           /* -1, or readable = the VM is gone -> -EHOSTDOWN */
} AgentExecIn;

typedef struct AgentExecOut {
        Buf out, err;           /* capped at the exec's stdout_cap/stderr_cap */
        ProtoExit exit;
        bool stdout_truncated, stderr_truncated;
} AgentExecOut;

/* Sends EXEC, streams stdin (then STDIN_EOF) while reading STDOUT/STDERR until EXIT.
 * Deadline = exec->timeout_ms + EXEC_AGENT_GRACE_MS; past it a KILL is sent and
 * -ETIMEDOUT returned. Wrong frames, bad EXIT, EOF before EXIT -> -EPROTO. An ERROR frame
 * -> its errno and message. On error *ret is left empty. fd is switched to non-blocking. */
int agent_exec(int fd, const AgentExecIn *in, AgentExecOut *ret, Err *e);
void agent_exec_out_free(AgentExecOut *o);
