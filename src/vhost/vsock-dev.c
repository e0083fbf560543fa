/* vsock-dev.c — the virtio-vsock device's two rings: tx (guest -> us) chains are decoded
 * and handed to the muxer, rx (us -> guest) buffers are filled from it. Each ring gets a
 * bounded number of chains per round, so one busy guest or connection cannot starve the
 * vhost-user socket; no chain is ever held across rounds (used index == consumed index). */
#include "vhost-internal.h"

static void vsock_dev_ring_error(VhostVsock *v, const char *name)
{
        vhost_warn(v, "%s ring corrupt (avail index or head out of range); "
                      "stopped until the driver resets the device", name);
}

/* Returns true if the budget ran out with chains left. */
static bool vsock_dev_tx(VhostVsock *v)
{
        Virtq *q = &v->dev.vq[VQ_TX];
        VirtqChain ch;
        unsigned i;
        for (i = 0; i < VQ_BUDGET; i++) {
                int r = virtq_pop(q, &v->dev.mem, &ch);
                if (r < 0)
                        vsock_dev_ring_error(v, "tx");
                if (r <= 0)
                        break;
                uint8_t raw[VSOCK_HDR_SIZE];
                if (virtq_chain_read(&ch, 0, raw, sizeof(raw)) == sizeof(raw)) {
                        VsockHdr h;
                        vsock_hdr_decode(raw, &h);
                        mux_guest_pkt(v, &h, &ch);
                } else {
                        vhost_warn(v, "tx chain shorter than a header: dropped");
                }
                virtq_push(q, ch.head, 0);
        }
        virtq_signal(q);
        return i == VQ_BUDGET;
}

static bool vsock_dev_rx(VhostVsock *v)
{
        Virtq *q = &v->dev.vq[VQ_RX];
        VirtqChain ch;
        unsigned i;
        for (i = 0; i < VQ_BUDGET && mux_has_rx(&v->mux); i++) {
                int r = virtq_pop(q, &v->dev.mem, &ch);
                if (r < 0)
                        vsock_dev_ring_error(v, "rx");
                if (r <= 0)
                        break; /* no buffers: the driver kicks when it adds some */
                if (ch.write_len < VSOCK_HDR_SIZE) {
                        vhost_warn(v, "rx buffer shorter than a header: skipped");
                        virtq_push(q, ch.head, 0);
                        continue;
                }
                uint32_t len = mux_rx_fill(v, &ch);
                if (len == 0) {
                        virtq_unpop(q);
                        break;
                }
                virtq_push(q, ch.head, len);
        }
        virtq_signal(q);
        return i == VQ_BUDGET && mux_has_rx(&v->mux);
}

bool vsock_dev_run(VhostVsock *v)
{
        bool more = false;
        if (virtq_ready(&v->dev.vq[VQ_TX]))
                more |= vsock_dev_tx(v);
        if (virtq_ready(&v->dev.vq[VQ_RX]))
                more |= vsock_dev_rx(v);
        return more;
}
