/* fake-guest.c — see fake-guest.h. Guest memory: one memfd region, gpa == file offset,
 * QEMU user address = FAKE_UVA + gpa. Rings: rx at 0x1000, tx at 0x5000, 64 entries;
 * rx buffers 4 KiB each from 1 MiB; tx header at 2 MiB, tx payload at 3 MiB. */
#include "fake-guest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/util.h"
#include "vu-msg.h"

#define GMEM (4u << 20)
#define FAKE_UVA 0x7e0000000000ull
#define RING_NUM 64
#define RXBUF 0x100000u
#define RXBUF_SIZE 4096u
#define TXHDR 0x200000u
#define TXDATA 0x300000u

static void put16(Fake *f, uint64_t a, uint16_t v) { memcpy(f->g + a, &v, 2); }
static void put32(Fake *f, uint64_t a, uint32_t v) { memcpy(f->g + a, &v, 4); }
static void put64(Fake *f, uint64_t a, uint64_t v) { memcpy(f->g + a, &v, 8); }
static uint32_t get32(Fake *f, uint64_t a) { uint32_t v; memcpy(&v, f->g + a, 4); return v; }
static uint16_t used_idx(Fake *f, FakeRing *r)
{
        return __atomic_load_n((uint16_t *)(f->g + r->used + 2), __ATOMIC_ACQUIRE);
}

int fake_vu(Fake *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
            const int *fds, unsigned nfds, void *reply, uint32_t reply_size)
{
        uint8_t buf[12 + 512];
        VuHdr h = {req, flags ? flags : 1, size};
        memcpy(buf, &h, 12);
        if (size)
                memcpy(buf + 12, p, size);
        struct iovec iov = {buf, 12 + size};
        union {
                char b[CMSG_SPACE(sizeof(int) * 8)];
                struct cmsghdr a;
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
        if (sendmsg(f->vu, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        bool want = vu_msg_has_reply(req) || (h.flags & VU_FLAG_NEED_REPLY);
        if (!want)
                return 0;
        VuHdr rh;
        int r = fd_read_exact(f->vu, &rh, 12, now_ms() + FAKE_WAIT_MS);
        if (r < 0)
                return r;
        if (rh.request != req || rh.flags != 0x5 || rh.size > reply_size)
                return -EBADMSG;
        r = fd_read_exact(f->vu, reply, rh.size, now_ms() + FAKE_WAIT_MS);
        return r < 0 ? r : (int)rh.size;
}

static int vu_u64(Fake *f, uint32_t req, uint64_t val)
{
        return fake_vu(f, req, 0, &val, 8, NULL, 0, NULL, 0);
}

static int vu_get_u64(Fake *f, uint32_t req, uint64_t *val)
{
        int r = fake_vu(f, req, 0, NULL, 0, NULL, 0, val, 8);
        return r == 8 ? 0 : (r < 0 ? r : -EBADMSG);
}

static int vu_vring_fd(Fake *f, uint32_t req, uint32_t index, int fd)
{
        uint64_t v = index;
        return fake_vu(f, req, 0, &v, 8, &fd, 1, NULL, 0);
}

/* QEMU 7.2 realize: features, protocol features, owner, masked call/err fds, config. */
static int fake_realize(Fake *f)
{
        uint64_t v;
        if (vu_get_u64(f, VU_GET_FEATURES, &v) < 0 || v != ((1ull << 32) | (1ull << 30)))
                return -EPROTO;
        if (vu_get_u64(f, VU_GET_PROTOCOL_FEATURES, &v) < 0 || !(v & (1u << 9)))
                return -EPROTO;
        vu_u64(f, VU_SET_PROTOCOL_FEATURES, v);
        if (vu_get_u64(f, VU_GET_QUEUE_NUM, &v) < 0 || v < 2)
                return -EPROTO;
        fake_vu(f, VU_SET_OWNER, 0, NULL, 0, NULL, 0, NULL, 0);
        vu_get_u64(f, VU_GET_FEATURES, &v);
        for (uint32_t i = 0; i < 2; i++) {
                int masked = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                vu_vring_fd(f, VU_SET_VRING_CALL, i, masked);
                vu_vring_fd(f, VU_SET_VRING_ERR, i, masked);
                close(masked);
        }
        uint32_t cfg[5] = {0, 8, 0, 0, 0};
        uint8_t rep[20];
        if (fake_vu(f, VU_GET_CONFIG, 0, cfg, 20, NULL, 0, rep, sizeof(rep)) != 20)
                return -EPROTO;
        uint64_t cid;
        memcpy(&cid, rep + 12, 8);
        return cid == FAKE_CID ? 0 : -EPROTO;
}

static int fake_mem_table(Fake *f)
{
        VuMemTable mt = {.nregions = 1};
        mt.regions[0] = (VuMemRegion){0, GMEM, FAKE_UVA, 0};
        uint64_t ack = 1;
        int r = fake_vu(f, VU_SET_MEM_TABLE, 1 | VU_FLAG_NEED_REPLY, &mt, 8 + 32, &f->memfd, 1,
                        &ack, 8);
        return r == 8 && ack == 0 ? 0 : -EPROTO;
}

static int fake_ring_start(Fake *f, uint32_t i, FakeRing *r, uint16_t base)
{
        VuVringState st = {i, RING_NUM};
        fake_vu(f, VU_SET_VRING_NUM, 0, &st, 8, NULL, 0, NULL, 0);
        st.num = base;
        fake_vu(f, VU_SET_VRING_BASE, 0, &st, 8, NULL, 0, NULL, 0);
        VuVringAddr a = {i, 0, FAKE_UVA + r->desc, FAKE_UVA + r->used, FAKE_UVA + r->avail, 0};
        fake_vu(f, VU_SET_VRING_ADDR, 0, &a, 40, NULL, 0, NULL, 0);
        if (r->kick >= 0)
                close(r->kick);
        r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return vu_vring_fd(f, VU_SET_VRING_KICK, i, r->kick);
}

static void ring_layout(FakeRing *r, uint64_t base)
{
        r->num = RING_NUM;
        r->desc = base;
        r->avail = base + 0x1000;
        r->used = base + 0x2000;
}

static void kick(FakeRing *r)
{
        uint64_t one = 1;
        if (write(r->kick, &one, 8) < 0)
                perror("kick");
}

static void avail_publish(Fake *f, FakeRing *r, uint16_t head)
{
        put16(f, r->avail + 4 + 2u * (r->avail_idx % r->num), head);
        r->avail_idx++;
        __atomic_store_n((uint16_t *)(f->g + r->avail + 2), r->avail_idx, __ATOMIC_RELEASE);
}

static void rx_post(Fake *f, uint16_t id)
{
        uint64_t d = f->rx.desc + 16u * id;
        put64(f, d, RXBUF + (uint64_t)id * RXBUF_SIZE);
        put32(f, d + 8, RXBUF_SIZE);
        put16(f, d + 12, 2); /* WRITE */
        put16(f, d + 14, 0);
        avail_publish(f, &f->rx, id);
}

/* DRIVER_OK: guest notifier fds, features, memory, rings, enable, final call fds. */
int fake_driver_ok(Fake *f, uint16_t rx_base, uint16_t tx_base)
{
        vu_u64(f, VU_SET_FEATURES, (1ull << 32) | (1ull << 30));
        if (fake_mem_table(f) < 0)
                return -EPROTO;
        fake_ring_start(f, 0, &f->rx, rx_base);
        fake_ring_start(f, 1, &f->tx, tx_base);
        for (uint32_t i = 0; i < 2; i++) {
                VuVringState st = {i, 1};
                fake_vu(f, VU_SET_VRING_ENABLE, 0, &st, 8, NULL, 0, NULL, 0);
        }
        int r = vu_vring_fd(f, VU_SET_VRING_CALL, 0, f->rx.call);
        if (r >= 0)
                r = vu_vring_fd(f, VU_SET_VRING_CALL, 1, f->tx.call);
        return r;
}

static void fake_rings_reset(Fake *f)
{
        memset(f->g, 0, RXBUF);
        f->rx.avail_idx = f->rx.used_seen = f->tx.avail_idx = f->tx.used_seen = 0;
}

int fake_frontend_connect(Fake *f)
{
        int r = unix_connect(f->vhost_path, &f->vu);
        if (r < 0)
                return r;
        if (fake_realize(f) < 0)
                return -EPROTO;
        fake_rings_reset(f);
        r = fake_driver_ok(f, 0, 0);
        if (r < 0)
                return r;
        for (uint16_t i = 0; i < RING_NUM; i++)
                rx_post(f, i);
        kick(&f->rx);
        return 0;
}

void fake_frontend_close(Fake *f) { closep(&f->vu); }

int fake_stop_rings(Fake *f, uint32_t ret_base[2])
{
        for (uint32_t i = 0; i < 2; i++) {
                VuVringState st = {i, 0};
                fake_vu(f, VU_SET_VRING_ENABLE, 0, &st, 8, NULL, 0, NULL, 0);
        }
        for (uint32_t i = 0; i < 2; i++) {
                VuVringState st = {i, 0}, rep;
                if (fake_vu(f, VU_GET_VRING_BASE, 0, &st, 8, NULL, 0, &rep, 8) != 8 ||
                    rep.index != i)
                        return -EPROTO;
                ret_base[i] = rep.num;
        }
        return 0;
}

static int wait_used(Fake *f, FakeRing *r, int ms)
{
        int64_t deadline = now_ms() + ms;
        while (used_idx(f, r) == r->used_seen) {
                struct pollfd p = {.fd = r->call, .events = POLLIN};
                int left = deadline_left(deadline);
                if (left == 0 || poll(&p, 1, MIN(left, 50)) < 0)
                        return used_idx(f, r) == r->used_seen ? -ETIMEDOUT : 0;
                uint64_t cnt;
                if (p.revents & POLLIN && read(r->call, &cnt, 8) < 0)
                        return -errno;
        }
        return 0;
}

int fake_send_raw(Fake *f, const VsockHdr *h, const void *data, uint32_t chain_len,
                  uint32_t hdr_len)
{
        uint8_t raw[VSOCK_HDR_SIZE];
        vsock_hdr_encode(h, raw);
        memcpy(f->g + TXHDR, raw, sizeof(raw));
        if (chain_len)
                memcpy(f->g + TXDATA, data, chain_len);
        uint64_t d = f->tx.desc;
        put64(f, d, TXHDR);
        put32(f, d + 8, hdr_len);
        put16(f, d + 12, chain_len ? 1 : 0);
        put16(f, d + 14, 1);
        put64(f, d + 16, TXDATA);
        put32(f, d + 24, chain_len);
        put16(f, d + 28, 0);
        avail_publish(f, &f->tx, 0);
        kick(&f->tx);
        int r = wait_used(f, &f->tx, FAKE_WAIT_MS);
        f->tx.used_seen = used_idx(f, &f->tx);
        return r;
}

int fake_send(Fake *f, uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t flags,
              const void *data, uint32_t len)
{
        VsockHdr h = {.src_cid = FAKE_CID, .dst_cid = 2, .src_port = src_port,
                      .dst_port = dst_port, .len = len, .type = 1, .op = op, .flags = flags,
                      .buf_alloc = f->buf_alloc, .fwd_cnt = f->fwd_cnt};
        return fake_send_raw(f, &h, data, len, VSOCK_HDR_SIZE);
}

int fake_recv(Fake *f, Pkt *p, int ms)
{
        int r = wait_used(f, &f->rx, ms);
        if (r < 0)
                return r;
        uint64_t e = f->rx.used + 4 + 8u * (f->rx.used_seen % f->rx.num);
        uint32_t id = get32(f, e), len = get32(f, e + 4);
        f->rx.used_seen++;
        if (id >= RING_NUM || len < VSOCK_HDR_SIZE || len > RXBUF_SIZE)
                return -EBADMSG;
        const uint8_t *b = f->g + RXBUF + (uint64_t)id * RXBUF_SIZE;
        vsock_hdr_decode(b, &p->h);
        p->len = len - VSOCK_HDR_SIZE;
        memcpy(p->data, b + VSOCK_HDR_SIZE, p->len);
        rx_post(f, (uint16_t)id);
        kick(&f->rx);
        return p->len == p->h.len ? 0 : -EBADMSG;
}

int fake_start(Fake *f)
{
        memset(f, 0, sizeof(*f));
        f->vu = f->rx.kick = f->tx.kick = -1;
        f->buf_alloc = 262144;
        strcpy(f->dir, "/tmp/ember-vhost-test.XXXXXX");
        if (!mkdtemp(f->dir))
                return -errno;
        snprintf(f->vhost_path, sizeof(f->vhost_path), "%s/vhost.sock", f->dir);
        snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
        f->memfd = memfd_create("fake-guest", MFD_CLOEXEC);
        if (f->memfd < 0 || ftruncate(f->memfd, GMEM) < 0)
                return -errno;
        f->g = mmap(NULL, GMEM, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
        if (f->g == MAP_FAILED)
                return -errno;
        ring_layout(&f->rx, 0x1000);
        ring_layout(&f->tx, 0x5000);
        f->rx.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        f->tx.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        VhostVsockConfig c = {f->vhost_path, f->uds, FAKE_CID};
        Err e = {0};
        int r = vhost_vsock_new(&c, &f->v, &e);
        if (r >= 0)
                r = vhost_vsock_start(f->v, &e);
        if (r < 0) {
                fprintf(stderr, "backend: %s\n", e.msg);
                return r;
        }
        return fake_frontend_connect(f);
}

void fake_stop(Fake *f)
{
        fake_frontend_close(f);
        vhost_vsock_free(f->v);
        f->v = NULL;
        closep(&f->rx.kick);
        closep(&f->tx.kick);
        closep(&f->rx.call);
        closep(&f->tx.call);
        closep(&f->memfd);
        munmap(f->g, GMEM);
        unlink(f->uds);
        rmdir(f->dir);
}

int host_connect(const char *path)
{
        int fd;
        if (unix_connect(path, &fd) < 0)
                return -1;
        struct timeval tv = {.tv_sec = FAKE_WAIT_MS / 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

int host_read_line(int fd, char *buf, size_t n)
{
        size_t i = 0;
        while (i + 1 < n) {
                ssize_t r = read(fd, buf + i, 1);
                if (r <= 0)
                        break;
                if (buf[i++] == '\n')
                        break;
        }
        buf[i] = 0;
        return (int)i;
}

static uint64_t xorshift(uint64_t *x)
{
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

/* One random descriptor; plausible ones point into guest memory (or just past it). */
static void garbage_desc(Fake *f, uint16_t i, uint64_t *x, bool plausible)
{
        uint64_t d = f->tx.desc + 16u * i;
        uint64_t r = xorshift(x);
        uint64_t addr = plausible ? TXDATA + (r % (GMEM - TXDATA + 4096)) : xorshift(x);
        put64(f, d, addr);
        put32(f, d + 8, plausible ? (uint32_t)(xorshift(x) % 70000) : (uint32_t)xorshift(x));
        put16(f, d + 12, (uint16_t)(xorshift(x) & 7));
        put16(f, d + 14, (uint16_t)(xorshift(x) % (RING_NUM + 2)));
}

static void garbage_header(Fake *f, uint64_t *x)
{
        for (uint64_t a = TXDATA; a < TXDATA + 0x1000; a += 8)
                put64(f, a, xorshift(x));
        /* mostly packets that pass the CID check, so the muxer sees random ops */
        put64(f, TXDATA, xorshift(x) % 4 ? FAKE_CID : xorshift(x));
        put64(f, TXDATA + 8, xorshift(x) % 4 ? 2 : xorshift(x));
        put16(f, TXDATA + 28, (uint16_t)(xorshift(x) % 3));
        put16(f, TXDATA + 30, (uint16_t)(xorshift(x) % 9));
        put32(f, TXDATA + 24, (uint32_t)(xorshift(x) % 80000));
}

int fake_tx_garbage(Fake *f, unsigned n, unsigned seed, bool plausible)
{
        uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
        for (unsigned k = 0; k < n; k++) {
                garbage_header(f, &x);
                for (uint16_t i = 0; i < RING_NUM; i++)
                        garbage_desc(f, i, &x, plausible);
                uint16_t head = (uint16_t)(xorshift(&x) % RING_NUM);
                if (plausible) { /* the header itself in the head descriptor */
                        put64(f, f->tx.desc + 16u * head, TXDATA);
                        put32(f, f->tx.desc + 16u * head + 8, 40 + (uint32_t)(xorshift(&x) % 200));
                }
                avail_publish(f, &f->tx, head);
                kick(&f->tx);
                int r = wait_used(f, &f->tx, FAKE_WAIT_MS);
                f->tx.used_seen = used_idx(f, &f->tx);
                if (r < 0)
                        return r;
                fake_rx_drain(f);
        }
        return 0;
}

void fake_tx_corrupt(Fake *f)
{
        f->tx.avail_idx += 1000;
        __atomic_store_n((uint16_t *)(f->g + f->tx.avail + 2), f->tx.avail_idx, __ATOMIC_RELEASE);
        kick(&f->tx);
}

void fake_rx_drain(Fake *f)
{
        Pkt p;
        while (fake_recv(f, &p, 0) == 0)
                ;
}

int fake_device_reset(Fake *f)
{
        uint32_t base[2];
        int r = fake_stop_rings(f, base);
        if (r < 0)
                return r;
        fake_rings_reset(f);
        r = fake_driver_ok(f, 0, 0);
        if (r < 0)
                return r;
        for (uint16_t i = 0; i < RING_NUM; i++)
                rx_post(f, i);
        kick(&f->rx);
        return 0;
}
