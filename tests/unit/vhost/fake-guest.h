/* fake-guest.h — a fake QEMU front-end plus a fake virtio-vsock guest driver, enough to
 * drive the real backend thread without QEMU: the vhost-user handshake in QEMU 7.2's
 * order, rings in a memfd, synchronous tx, rx with re-posted 4 KiB buffers. Test code
 * only; every wait is bounded (FAKE_WAIT_MS) so a broken backend fails, never hangs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "vhost-vsock.h"
#include "vsock-pkt.h"

#define FAKE_WAIT_MS 5000
#define FAKE_CID 3u

typedef struct FakeRing {
        uint16_t num;
        uint64_t desc, avail, used; /* gpa */
        uint16_t avail_idx, used_seen;
        int kick, call;
} FakeRing;

typedef struct Fake {
        char dir[64], vhost_path[128], uds[128];
        VhostVsock *v;
        int vu;
        int memfd;
        uint8_t *g;
        FakeRing rx, tx;
        uint32_t buf_alloc, fwd_cnt; /* what the fake guest advertises */
} Fake;

typedef struct Pkt {
        VsockHdr h;
        uint32_t len;
        uint8_t data[4096];
} Pkt;

int fake_start(Fake *f);                  /* backend + front-end + driver OK */
void fake_stop(Fake *f);                  /* frees the backend, removes the dir */
int fake_frontend_connect(Fake *f);       /* realize + DRIVER_OK sequences */
void fake_frontend_close(Fake *f);
int fake_driver_ok(Fake *f, uint16_t rx_base, uint16_t tx_base); /* (re)start rings */
int fake_stop_rings(Fake *f, uint32_t ret_base[2]); /* ENABLE 0 + GET_VRING_BASE */
/* Raw vhost-user request; returns the reply size or -errno. */
int fake_vu(Fake *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
            const int *fds, unsigned nfds, void *reply, uint32_t reply_size);

/* Guest tx: one packet (header chain of hdr_len bytes + payload chain of chain_len). */
int fake_send_raw(Fake *f, const VsockHdr *h, const void *data, uint32_t chain_len,
                  uint32_t hdr_len);
int fake_send(Fake *f, uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t flags,
              const void *data, uint32_t len);
/* Guest rx: next packet within ms; 0 ok, -ETIMEDOUT. */
int fake_recv(Fake *f, Pkt *p, int ms);

/* Hostile guest: n tx chains of random descriptors (addresses mostly valid when
 * plausible) carrying random headers; waits until the backend consumed them all. */
int fake_tx_garbage(Fake *f, unsigned n, unsigned seed, bool plausible);
/* Publishes an avail index far ahead of the ring: the ring is corrupt. */
void fake_tx_corrupt(Fake *f);
/* Guest driver reset: rings stopped, restarted at 0, rx buffers posted again. */
int fake_device_reset(Fake *f);
void fake_rx_drain(Fake *f);

/* Host side helpers */
int host_connect(const char *path);           /* blocking, 5 s receive timeout */
int host_read_line(int fd, char *buf, size_t n); /* up to '\n'; bytes or 0 on EOF */
