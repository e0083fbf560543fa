/* vhost-limits.h — every size, count and wait of the vhost-user vsock backend that QEMU,
 * a guest or a host client can drive. Checked before allocating or waiting.
 * (src/vhost may include only shared/, so these live here rather than in proto/limits.h.) */
#pragma once

/* vhost-user front-end (QEMU) */
#define VU_MAX_MEM_REGIONS 8u        /* without CONFIGURE_MEM_SLOTS */
#define VU_MAX_FDS 8u                /* fds attached to one message */
#define VU_MAX_CONFIG 256u           /* device config bytes in GET/SET_CONFIG */
#define VU_MAX_PAYLOAD (12u + VU_MAX_CONFIG) /* largest payload we accept */
#define VU_MSG_TIMEOUT_MS 1000       /* payload must follow its header within this */
#define VU_MSGS_PER_WAKEUP 64u       /* then the loop serves guests and host sockets */

/* virtqueues */
#define VQ_MAX_SIZE 1024u            /* QEMU 7.2 uses 128 for vsock */
#define VQ_MAX_CHAIN_SEGS 64u        /* host segments of one descriptor chain */
#define VQ_BUDGET 256u               /* chains per ring per wakeup */

/* virtio-vsock device and hybrid muxer */
#define VSOCK_MAX_CONNS 1023u              /* Firecracker's limit, incl. pending CONNECTs */
#define VSOCK_MAX_PAYLOAD (64u * 1024)     /* per packet, both directions */
#define VSOCK_CONN_BUF (256u * 1024)       /* buf_alloc we advertise = guest->host buffering */
#define VSOCK_CREDIT_LOW (64u * 1024)      /* send CREDIT_UPDATE below this free space */
#define VSOCK_CMD_MAX 32u                  /* CONNECT line incl. '\n' (Firecracker) */
#define VSOCK_CMD_TIMEOUT_MS 2000          /* whole CONNECT line must arrive within */
#define VSOCK_REQUEST_TIMEOUT_MS 2000      /* guest must answer a REQUEST within */
#define VSOCK_SHUTDOWN_TIMEOUT_MS 2000     /* drain after a shutdown, then RST */
#define VSOCK_RST_QUEUE 2048u              /* RSTs waiting for an rx buffer */
#define VSOCK_ACCEPTS_PER_WAKEUP 64u
#define VSOCK_ACCEPT_PAUSE_MS 100          /* listener rest after EMFILE & co. */
#define VSOCK_HOST_PORT_FIRST (1u << 30)   /* Firecracker's host-side port range */
#define VSOCK_HOST_PORT_END (1u << 31)
