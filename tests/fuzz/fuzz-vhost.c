/* fuzz-vhost.c — the vhost-user vsock backend driven like QEMU, a guest driver and host
 * clients would, from one thread: its own thread is never started, this file runs the loop
 * round (epoll, timers, rings, reap) after every step, so each input replays exactly.
 * Must not touch anything but its scratch directory and its memfd "guest". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "shared/util.h"
#include "vhost-fd.h"
#include "vhost-internal.h"
#include "vu-msg.h"

/* Covers the vhost-user parser and handlers (vu-msg.c, vu-dev.c), guest memory mapping,
 * the split-virtqueue walk, vsock packets and the hybrid muxer with its CONNECT lines.
 * Checks: sanitizers, reply headers, and (while no raw step broke the rules on purpose)
 * that the device never returns more buffers than the driver posted nor writes a
 * malformed packet or one longer than its buffer.
 * Input: a list of steps, each an op byte then its arguments (see the step table). */

#define GMEM (256u << 10)           /* guest memory: one memfd, gpa == file offset */
#define UVA 0x7f0000000000ull       /* QEMU's address of gpa 0 */
#define RING_AREA 0x8000u           /* rx ring at 0, tx ring at RING_AREA */
#define AVAIL_OFF 0x4000u           /* inside a ring area: desc at 0, avail, used */
#define USED_OFF 0x5000u
#define DATA_FIRST (2 * RING_AREA)  /* buffers are carved round-robin from here */
#define DATA_MAX 4096u
#define GUEST_CID 3u
#define N_HOST 8                    /* 0-3: clients of uds_path, 4-7: accepted by us */

typedef struct Ring {
        uint64_t base;          /* gpa of the ring area */
        uint16_t num, avail_idx, used_seen, next_desc;
        uint32_t buf_len[VQ_MAX_SIZE]; /* per descriptor: the buffer posted (rx) */
} Ring;

typedef struct H {
        VhostVsock *v;
        int fe;                 /* our front-end connection, -1 = none */
        uint8_t rbuf[2 * (VU_HDR_SIZE + VU_MAX_PAYLOAD)];
        size_t rlen;
        int kick[VQ_COUNT], call[VQ_COUNT], spare;
        Ring ring[VQ_COUNT];
        bool set_up, tainted;
        uint32_t data_next;
        int host[N_HOST], lis;
        char lis_path[108];
} H;

static int memfd = -1;
static uint8_t *g;
static char vu_path[108], uds_path[108];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_quiet();
        const char *dir = fuzz_scratch_dir("vhost");
        snprintf(vu_path, sizeof(vu_path), "%s/vu", dir);
        snprintf(uds_path, sizeof(uds_path), "%s/v", dir);
        memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
        FUZZ_CHECK(memfd >= 0 && ftruncate(memfd, GMEM) == 0, "memfd: %m");
        g = mmap(NULL, GMEM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        FUZZ_CHECK(g != MAP_FAILED, "mmap: %m");
        return 0;
}

static void put16(uint64_t a, uint16_t v) { memcpy(g + a, &v, 2); }
static void put32(uint64_t a, uint32_t v) { memcpy(g + a, &v, 4); }
static void put64(uint64_t a, uint64_t v) { memcpy(g + a, &v, 8); }
static uint16_t get16(uint64_t a) { uint16_t v; memcpy(&v, g + a, 2); return v; }
static uint32_t get32(uint64_t a) { uint32_t v; memcpy(&v, g + a, 4); return v; }

/* ---- the front-end side (QEMU) ---- */

/* Replies: exactly VERSION|REPLY, bounded payload. */
static void fe_drain(H *h)
{
        for (;;) {
                if (h->fe < 0)
                        return;
                ssize_t n = recv(h->fe, h->rbuf + h->rlen, sizeof(h->rbuf) - h->rlen, MSG_DONTWAIT);
                if (n <= 0)
                        return;
                h->rlen += (size_t)n;
                while (h->rlen >= VU_HDR_SIZE) {
                        VuHdr hd;
                        memcpy(&hd, h->rbuf, sizeof(hd));
                        FUZZ_CHECK(hd.flags == (VU_FLAG_VERSION | VU_FLAG_REPLY) &&
                                           hd.size <= VU_MAX_PAYLOAD,
                                   "reply to %u: flags %#x size %u", hd.request, hd.flags, hd.size);
                        if (h->rlen < VU_HDR_SIZE + hd.size)
                                break;
                        h->rlen -= VU_HDR_SIZE + hd.size;
                        memmove(h->rbuf, h->rbuf + VU_HDR_SIZE + hd.size, h->rlen);
                }
        }
}

static void fe_close(H *h)
{
        if (h->fe >= 0)
                close(h->fe);
        h->fe = -1;
        h->rlen = 0;
        h->set_up = false;
}

static void fe_connect(H *h)
{
        if (h->fe >= 0)
                return;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, vu_path);
        h->fe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        FUZZ_CHECK(h->fe >= 0, "socket: %m");
        if (connect(h->fe, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                fe_close(h); /* backlog full: the backend still serves the old one */
}

/* One message: header, then size bytes of p (zeros past n) unless size is over the limit
 * (the backend refuses those before reading a payload). */
static void fe_send(H *h, uint32_t req, uint32_t flags, uint32_t size, const void *p, size_t n,
                    const int *fds, unsigned nfds)
{
        fe_connect(h);
        if (h->fe < 0)
                return;
        uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD] = {0};
        VuHdr hd = {req, flags, size};
        uint32_t body = size <= VU_MAX_PAYLOAD ? size : 0;
        memcpy(buf, &hd, sizeof(hd));
        if (n && body)
                memcpy(buf + VU_HDR_SIZE, p, MIN(n, (size_t)body));
        struct iovec iov = {buf, VU_HDR_SIZE + body};
        union {
                char b[CMSG_SPACE(sizeof(int) * (VU_MAX_FDS + 2))];
                struct cmsghdr align;
        } ctl;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
                mh.msg_control = ctl.b;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                *c = (struct cmsghdr){.cmsg_len = CMSG_LEN(sizeof(int) * nfds),
                                      .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS};
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        if (sendmsg(h->fe, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)iov.iov_len)
                fe_close(h); /* the backend dropped us (or is stuck): start over */
}

static void fe_u64(H *h, uint32_t req, uint64_t v, const int *fd)
{
        fe_send(h, req, VU_FLAG_VERSION, 8, &v, 8, fd, fd ? 1 : 0);
}

static void fe_state(H *h, uint32_t req, uint32_t index, uint32_t num)
{
        VuVringState st = {index, num};
        fe_send(h, req, VU_FLAG_VERSION, sizeof(st), &st, sizeof(st), NULL, 0);
}

/* ---- host side: clients of uds_path and a listener for guest-initiated connections ---- */

/* Accepts guest-initiated connections. Host sockets are read only by step_host_read, and
 * the backend's own sockets get the smallest send buffer, so a host that does not read
 * pushes back on the guest after a few KiB (wbuf, credit) within one small input. */
static void host_service(H *h)
{
        for (int i = N_HOST / 2; h->lis >= 0 && i < N_HOST; i++) {
                if (h->host[i] >= 0)
                        continue;
                h->host[i] = accept4(h->lis, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (h->host[i] < 0)
                        break;
        }
        int small = 1; /* the kernel rounds it up to its minimum */
        for (ListNode *n = h->v->mux.all.next; n != &h->v->mux.all; n = n->next) {
                VsockConn *c = container_of(n, VsockConn, all);
                if (c->fd >= 0)
                        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        }
}

/* ---- the guest driver's view of the rings ---- */

static uint64_t ring_desc(const Ring *r) { return r->base; }
static uint64_t ring_avail(const Ring *r) { return r->base + AVAIL_OFF; }
static uint64_t ring_used(const Ring *r) { return r->base + USED_OFF; }

static uint32_t data_alloc(H *h, uint32_t len)
{
        if (h->data_next + len > GMEM)
                h->data_next = DATA_FIRST;
        uint32_t at = h->data_next;
        h->data_next += (len + 15) & ~15u;
        return at;
}

static uint16_t desc_put(Ring *r, uint64_t addr, uint32_t len, uint16_t flags)
{
        uint16_t i = r->next_desc;
        r->next_desc = (uint16_t)((i + 1) % r->num);
        uint64_t d = ring_desc(r) + 16u * i;
        put64(d, addr);
        put32(d + 8, len);
        put16(d + 12, flags);
        put16(d + 14, r->next_desc);
        r->buf_len[i] = len;
        return i;
}

static void avail_push(Ring *r, uint16_t head)
{
        put16(ring_avail(r) + 4 + 2u * (r->avail_idx % r->num), head);
        r->avail_idx++;
        __atomic_store_n((uint16_t *)(g + ring_avail(r) + 2), r->avail_idx, __ATOMIC_RELEASE);
}

/* The device may hand back only what was posted, and what it writes to rx must be a
 * well-formed packet from the host that fits its buffer. */
static void check_rings(H *h)
{
        if (!h->set_up || h->tainted)
                return;
        for (unsigned q = 0; q < VQ_COUNT; q++) {
                Ring *r = &h->ring[q];
                uint16_t used = get16(ring_used(r) + 2);
                FUZZ_CHECK((uint16_t)(r->avail_idx - used) <= r->num &&
                                   (uint16_t)(used - r->used_seen) <= r->num,
                           "ring %u: used %u, avail %u, seen %u", q, used, r->avail_idx, r->used_seen);
                for (; r->used_seen != used; r->used_seen++) {
                        uint64_t e = ring_used(r) + 4 + 8u * (r->used_seen % r->num);
                        uint32_t id = get32(e), len = get32(e + 4);
                        FUZZ_CHECK(id < r->num, "ring %u: used id %u", q, id);
                        if (q == VQ_TX || len == 0)
                                continue;
                        FUZZ_CHECK(len >= VSOCK_HDR_SIZE && len <= r->buf_len[id],
                                   "rx: %u bytes into a %u-byte buffer", len, r->buf_len[id]);
                        VsockHdr ph;
                        vsock_hdr_decode(g + get32(ring_desc(r) + 16u * id), &ph);
                        FUZZ_CHECK(ph.src_cid == VSOCK_CID_HOST && ph.dst_cid == GUEST_CID &&
                                           ph.type == VSOCK_TYPE_STREAM && ph.op > 0 &&
                                           ph.op < VSOCK_OP_MAX && ph.len + VSOCK_HDR_SIZE == len &&
                                           (ph.op == VSOCK_OP_RW || ph.len == 0),
                                   "rx: bad packet op %u len %u in %u", ph.op, ph.len, len);
                }
        }
}

/* ---- the backend's loop round (vhost-vsock.c's vhost_round, without waiting) ---- */

static void backend_round(H *h)
{
        VhostVsock *v = h->v;
        struct epoll_event evs[64];
        int n = epoll_wait(v->epfd, evs, 64, 0);
        for (int i = 0; i < n; i++) {
                EvSrc *s = evs[i].data.ptr;
                s->fn(v, s, evs[i].events);
        }
        mux_timers(v);
        v->more = vsock_dev_run(v);
        mux_reap(&v->mux);
        fe_drain(h);
        host_service(h);
        check_rings(h);
}

/* ---- steps ---- */

/* QEMU 7.2's realize + DRIVER_OK sequence, both rings of 1 << (arg % 11) entries. */
static void step_handshake(H *h, FuzzIn *in)
{
        uint16_t num = (uint16_t)(1u << (fuzz_u8(in) % 11));
        VuMemTable mt = {.nregions = 1, .regions = {{0, GMEM, UVA, 0}}};
        fe_send(h, VU_GET_FEATURES, VU_FLAG_VERSION, 0, NULL, 0, NULL, 0);
        fe_u64(h, VU_SET_FEATURES, (1ull << 32) | (1ull << 30), NULL);
        fe_send(h, VU_GET_PROTOCOL_FEATURES, VU_FLAG_VERSION, 0, NULL, 0, NULL, 0);
        fe_u64(h, VU_SET_PROTOCOL_FEATURES, 0x209, NULL);
        fe_send(h, VU_SET_OWNER, VU_FLAG_VERSION, 0, NULL, 0, NULL, 0);
        fe_send(h, VU_SET_MEM_TABLE, VU_FLAG_VERSION, 8 + sizeof(VuMemRegion), &mt,
                8 + sizeof(VuMemRegion), &memfd, 1);
        for (uint32_t q = 0; q < VQ_COUNT; q++) {
                Ring *r = &h->ring[q];
                *r = (Ring){.base = q * RING_AREA, .num = num};
                memset(g + r->base, 0, RING_AREA);
                VuVringAddr a = {q, 0, UVA + ring_desc(r), UVA + ring_used(r), UVA + ring_avail(r), 0};
                fe_state(h, VU_SET_VRING_NUM, q, num);
                fe_send(h, VU_SET_VRING_ADDR, VU_FLAG_VERSION, sizeof(a), &a, sizeof(a), NULL, 0);
                fe_state(h, VU_SET_VRING_BASE, q, 0);
                fe_u64(h, VU_SET_VRING_CALL, q, &h->call[q]);
                fe_u64(h, VU_SET_VRING_KICK, q, &h->kick[q]);
                fe_state(h, VU_SET_VRING_ENABLE, q, 1);
        }
        h->set_up = h->fe >= 0;
}

/* Any message: request, flags, size (over the limit too), fds (memfd or eventfd). */
static void step_raw_msg(H *h, FuzzIn *in)
{
        uint32_t req = fuzz_u8(in), flags = fuzz_u8(in) & 0xf, size = fuzz_u16(in) % 320;
        uint8_t spec = fuzz_u8(in);
        int fds[VU_MAX_FDS + 1];
        unsigned nfds = spec % (VU_MAX_FDS + 2);
        for (unsigned i = 0; i < nfds; i++)
                fds[i] = (spec & 0x10) ? memfd : h->spare;
        const uint8_t *p;
        size_t n = fuzz_take(in, size <= VU_MAX_PAYLOAD ? size : 0, &p);
        h->tainted = true;
        fe_send(h, req, flags, size, p, n, fds, nfds);
}

static void step_mem_write(H *h, FuzzIn *in)
{
        uint32_t off = fuzz_u32(in) % GMEM;
        const uint8_t *p;
        size_t n = fuzz_take(in, MIN((size_t)fuzz_u8(in), (size_t)(GMEM - off)), &p);
        if (n)
                memcpy(g + off, p, n);
        h->tainted = true;
}

static uint32_t pick_port(FuzzIn *in)
{
        uint8_t b = fuzz_u8(in);
        static const uint32_t bases[] = {52, 1000, 1000, VSOCK_HOST_PORT_FIRST, 1024, 0, 0,
                                         UINT32_MAX};
        if (b % 8 == 5)
                return fuzz_u32(in);
        return bases[b % 8] + (b % 8 == 7 || b % 8 == 0 ? 0 : (b >> 3) % 4);
}

static bool ring_room(H *h, Ring *r, unsigned n)
{
        uint16_t used = get16(ring_used(r) + 2);
        return h->set_up && (uint16_t)(r->avail_idx - used) + n <= r->num;
}

/* A guest packet: header fields mostly valid (each bit of sel makes one raw), payload,
 * and a descriptor layout (one buffer, header + payload, header split, payload writable). */
static void step_tx(H *h, FuzzIn *in)
{
        Ring *r = &h->ring[VQ_TX];
        uint8_t sel = fuzz_u8(in), layout = fuzz_u8(in) % 4;
        uint16_t plen = fuzz_u16(in) % DATA_MAX;
        VsockHdr hd; /* field by field: the input is read in this order */
        hd.src_cid = (sel & 1) ? fuzz_u64(in) : GUEST_CID;
        hd.dst_cid = (sel & 2) ? fuzz_u64(in) : VSOCK_CID_HOST;
        hd.src_port = pick_port(in);
        hd.dst_port = pick_port(in);
        hd.len = (sel & 4) ? fuzz_u32(in) : plen;
        hd.type = (sel & 8) ? fuzz_u16(in) : VSOCK_TYPE_STREAM;
        hd.op = fuzz_u8(in) % (VSOCK_OP_MAX + 1);
        hd.flags = (sel & 16) ? fuzz_u32(in) : fuzz_u8(in) % 4;
        hd.buf_alloc = (sel & 32) ? fuzz_u32(in) : VSOCK_CONN_BUF;
        hd.fwd_cnt = (sel & 64) ? fuzz_u32(in) : 0;
        const uint8_t *p;
        size_t n = fuzz_take(in, plen, &p);
        if (!ring_room(h, r, 1) || r->num < 4)
                return;
        uint32_t at = data_alloc(h, VSOCK_HDR_SIZE + plen);
        vsock_hdr_encode(&hd, g + at);
        memset(g + at + VSOCK_HDR_SIZE, 0, plen);
        if (n)
                memcpy(g + at + VSOCK_HDR_SIZE, p, n);
        uint16_t head;
        if (layout == 0 || plen == 0) {
                head = desc_put(r, at, VSOCK_HDR_SIZE + plen, 0);
        } else if (layout == 1 || layout == 3) {
                head = desc_put(r, at, VSOCK_HDR_SIZE, 1);
                desc_put(r, at + VSOCK_HDR_SIZE, plen, layout == 3 ? 2 : 0);
        } else {
                head = desc_put(r, at, 20, 1);
                desc_put(r, at + 20, VSOCK_HDR_SIZE - 20, 1);
                desc_put(r, at + VSOCK_HDR_SIZE, plen, 0);
        }
        avail_push(r, head);
}

/* Posts 1-8 rx buffers (bit 7 of the size byte: shorter than a header). */
static void step_rx(H *h, FuzzIn *in)
{
        Ring *r = &h->ring[VQ_RX];
        unsigned count = fuzz_u8(in) % 8 + 1;
        uint16_t sz = fuzz_u16(in);
        uint32_t len = (sz & 0x8000) ? sz % VSOCK_HDR_SIZE : VSOCK_HDR_SIZE + sz % DATA_MAX;
        for (unsigned i = 0; i < count && ring_room(h, r, 1); i++)
                avail_push(r, desc_put(r, data_alloc(h, len), len, 2));
}

static void step_kick(H *h, FuzzIn *in)
{
        uint64_t one = 1;
        ssize_t _unused_ w = write(h->kick[fuzz_u8(in) % VQ_COUNT], &one, sizeof(one));
}

static void step_host_connect(H *h, FuzzIn *in)
{
        int *fd = &h->host[fuzz_u8(in) % (N_HOST / 2)];
        if (*fd >= 0)
                return;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, uds_path);
        *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        FUZZ_CHECK(*fd >= 0, "socket: %m");
        if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                fd_close_reset(fd);
}

static void host_send(H *h, unsigned slot, const void *p, size_t n)
{
        if (h->host[slot] >= 0)
                (void)send(h->host[slot], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void step_host_write(H *h, FuzzIn *in)
{
        unsigned slot = fuzz_u8(in) % N_HOST;
        const uint8_t *p;
        size_t n = fuzz_take(in, fuzz_u8(in), &p);
        host_send(h, slot, p, n);
}

static void step_host_read(H *h, FuzzIn *in)
{
        int fd = h->host[fuzz_u8(in) % N_HOST];
        char buf[4096];
        while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

static void step_host_connect_line(H *h, FuzzIn *in)
{
        unsigned slot = fuzz_u8(in) % N_HOST;
        char line[32];
        int n = snprintf(line, sizeof(line), "CONNECT %u\n", pick_port(in));
        host_send(h, slot, line, (size_t)n);
}

static void step_host_close(H *h, FuzzIn *in)
{
        uint8_t b = fuzz_u8(in);
        int *fd = &h->host[b % N_HOST];
        if (*fd < 0)
                return;
        if ((b >> 3) % 3 == 0)
                fd_close_reset(fd);
        else
                (void)shutdown(*fd, (b >> 3) % 3 == 1 ? SHUT_WR : SHUT_RD);
}

static void step_host_listen(H *h, FuzzIn *in)
{
        uint32_t port = 1000 + fuzz_u8(in) % 4;
        if (h->lis >= 0)
                return;
        int n = snprintf(h->lis_path, sizeof(h->lis_path), "%s_%u", uds_path, port);
        FUZZ_CHECK(n > 0 && (size_t)n < sizeof(h->lis_path), "scratch path too long");
        int r = unix_listen(h->lis_path, 16, &h->lis);
        FUZZ_CHECK(r == 0 && fd_nonblock(h->lis, true) == 0, "listen %s: %s", h->lis_path,
                   strerror(-r));
}

static void step_fe_reconnect(H *h, FuzzIn *in)
{
        fe_close(h);
        backend_round(h); /* the backend sees the hang-up and resets the device */
        fe_connect(h);
}

static void step_rounds(H *h, FuzzIn *in)
{
        for (unsigned n = fuzz_u8(in) % 4; n > 0; n--)
                backend_round(h);
}

static void (*const steps[])(H *h, FuzzIn *in) = {
        step_handshake, step_raw_msg,   step_mem_write,    step_tx,
        step_rx,        step_kick,      step_host_connect, step_host_write,
        step_host_connect_line, step_host_close, step_host_listen, step_fe_reconnect,
        step_rounds,    step_host_read,
};

/* ---- one input ---- */

static void h_start(H *h)
{
        *h = (H){.fe = -1, .lis = -1, .data_next = DATA_FIRST};
        for (int i = 0; i < N_HOST; i++)
                h->host[i] = -1;
        for (unsigned q = 0; q < VQ_COUNT; q++) {
                h->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                h->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                FUZZ_CHECK(h->kick[q] >= 0 && h->call[q] >= 0, "eventfd: %m");
        }
        h->spare = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        FUZZ_CHECK(h->spare >= 0, "eventfd: %m");
        VhostVsockConfig cfg = {.vhost_socket = vu_path, .uds_path = uds_path,
                                .guest_cid = GUEST_CID};
        Err e = {0};
        FUZZ_CHECK(vhost_vsock_new(&cfg, &h->v, &e) == 0, "vhost_vsock_new: %s", e.msg);
        fe_connect(h);
        backend_round(h);
}

static void h_stop(H *h)
{
        for (int i = 0; i < N_HOST; i++)
                fd_close_reset(&h->host[i]);
        if (h->lis >= 0) {
                fd_close_reset(&h->lis);
                unlink(h->lis_path);
        }
        fe_close(h);
        vhost_vsock_free(h->v);
        unlink(uds_path); /* the backend leaves uds_path to its owner, as Firecracker does */
        for (unsigned q = 0; q < VQ_COUNT; q++) {
                fd_close_reset(&h->kick[q]);
                fd_close_reset(&h->call[q]);
        }
        fd_close_reset(&h->spare);
        /* zero the guest for the next input */
        FUZZ_CHECK(ftruncate(memfd, 0) == 0 && ftruncate(memfd, GMEM) == 0, "ftruncate: %m");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t fds = fuzz_fd_snapshot();
        H h;
        h_start(&h);
        FuzzIn in = {data, size};
        while (in.len > 0) {
                steps[fuzz_u8(&in) % ELEMENTSOF(steps)](&h, &in);
                backend_round(&h);
        }
        h_stop(&h);
        fuzz_fd_check(fds);
        return 0;
}
