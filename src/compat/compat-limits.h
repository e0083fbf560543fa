/* compat-limits.h — every size, count and wait of ember-vmm that a client (the Firecracker
 * API caller, a vsock peer) or the guest controls. Values copy Firecracker v1.16.1 where it
 * has one (../shared/firecracker/FACTS.md); the others are ours and say so. */
#pragma once

/* API server (micro-http): body limit, connection limit. */
#define COMPAT_API_MAX_PAYLOAD 51200u
#define COMPAT_API_MAX_CONNECTIONS 10u

/* Instance id: 1..64 chars, alphanumeric or '-' (Firecracker's validate_instance_id). */
#define COMPAT_ID_MAX 64u
/* x86_64 CMDLINE_MAX_SIZE */
#define COMPAT_CMDLINE_MAX 2048u
/* ours: Firecracker caps MMIO devices through IRQs; a process-engine VM needs far fewer */
#define COMPAT_MAX_DRIVES 16u
/* MAX_SUPPORTED_VCPUS */
#define COMPAT_MAX_VCPUS 32u

/* Hybrid vsock muxer (Firecracker's unix muxer). */
#define COMPAT_VSOCK_MAX_CONNECTIONS 1023u
#define COMPAT_VSOCK_CONNECT_LINE_MAX 32u
#define COMPAT_VSOCK_BUF (64u * 1024)      /* per direction per connection */
#define COMPAT_VSOCK_HOST_PORT_FIRST (1u << 30)
/* ours: a CONNECT line should arrive in one write; a short read gets this long to finish */
#define COMPAT_VSOCK_CONNECT_DEADLINE_MS 1000

/* ours: how long InstanceStart waits for the engine's child to exec */
#define COMPAT_START_DEADLINE_MS 10000

/* The qemu engine (ours). Console bytes a guest writes before the file restarts (disk use);
 * one line of QEMU's stderr kept; one QMP message; QEMU's start, spawn to its QMP greeting and
 * "cont" (a vhost-user set-up that never answers blocks QEMU forever; emberd waits 10 s for
 * InstanceStart); one QMP command; the drain of QEMU's last output once it exited; the KVM
 * probe's boot (TCG reaches the same line in ~3 s here). */
#define COMPAT_CONSOLE_MAX (8u << 20)
#define COMPAT_QEMU_LINE_MAX 512u
#define COMPAT_QMP_LINE_MAX (64u * 1024)
#define COMPAT_QEMU_START_MS 8000
#define COMPAT_QMP_COMMAND_MS 2000
#define COMPAT_QEMU_DRAIN_MS 1000
#define COMPAT_KVM_PROBE_MS 8000
