/* vhost-vsock.h — a vhost-user virtio-vsock backend for QEMU whose host side speaks
 * Firecracker's hybrid vsock protocol (CONNECT <port>\n / OK <hostport>\n on uds_path,
 * <uds_path>_<port> for guest-initiated connections). The backend runs on its own thread;
 * callers only create, start and free it. It never touches anything but its two sockets. */
#pragma once
#include <stdint.h>

#include "shared/err.h"

typedef struct VhostVsockConfig {
        const char *vhost_socket; /* where QEMU connects (we listen; bound by _new) */
        const char *uds_path;     /* Firecracker hybrid socket (we listen; bound by _new) */
        uint64_t guest_cid;       /* 3 .. 0xFFFFFFFE */
} VhostVsockConfig;

typedef struct VhostVsock VhostVsock;

/* Binds both sockets. Host clients may connect to uds_path at once: their CONNECT waits
 * until the guest driver is up (Firecracker FACTS §2.1). An existing socket file at either
 * path is replaced only if nothing listens on it (EADDRINUSE otherwise); a non-socket
 * file is never removed (EEXIST). */
int vhost_vsock_new(const VhostVsockConfig *c, VhostVsock **ret, Err *e);
/* The same, but the hybrid socket is uds_fd, already listening on c->uds_path (ember-vmm
 * binds it at PUT /vsock, as Firecracker does). Ownership of uds_fd passes, even on failure;
 * nothing is bound or replaced at uds_path. */
int vhost_vsock_new_adopt(const VhostVsockConfig *c, int uds_fd, VhostVsock **ret, Err *e);
/* Starts the backend thread. Call it before QEMU starts: QEMU blocks on our answers
 * while it realizes the device. */
int vhost_vsock_start(VhostVsock *v, Err *e);
/* Stops the thread, closes every socket and connection, unlinks vhost_socket (NOT
 * uds_path: Firecracker never unlinks it, emberd does). NULL-safe. */
void vhost_vsock_free(VhostVsock *v);
