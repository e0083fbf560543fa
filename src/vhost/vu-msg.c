/* vu-msg.c — receive, check and reply to vhost-user messages (see vu-msg.h).
 * The rules table is the single place that says what each request may carry; this file
 * must not interpret payloads beyond what the rules need (region count, NOFD bit). */
#include "vu-msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "shared/cleanup.h"
#include "shared/util.h"

typedef enum { SZ_FIXED, SZ_MEMTABLE, SZ_CONFIG } SizeKind;
typedef enum { FD_NONE, FD_VRING, FD_PER_REGION } FdRule;

typedef struct VuRule {
        const char *name;
        uint8_t size_kind;
        uint8_t size; /* SZ_FIXED only */
        uint8_t fds;
        uint8_t reply; /* has its own reply body */
} VuRule;

static const VuRule vu_rules[VU_REQ_MAX] = {
        [VU_GET_FEATURES] = {"GET_FEATURES", SZ_FIXED, 0, FD_NONE, 1},
        [VU_SET_FEATURES] = {"SET_FEATURES", SZ_FIXED, 8, FD_NONE, 0},
        [VU_SET_OWNER] = {"SET_OWNER", SZ_FIXED, 0, FD_NONE, 0},
        [VU_RESET_OWNER] = {"RESET_OWNER", SZ_FIXED, 0, FD_NONE, 0},
        [VU_SET_MEM_TABLE] = {"SET_MEM_TABLE", SZ_MEMTABLE, 0, FD_PER_REGION, 0},
        [VU_SET_VRING_NUM] = {"SET_VRING_NUM", SZ_FIXED, 8, FD_NONE, 0},
        [VU_SET_VRING_ADDR] = {"SET_VRING_ADDR", SZ_FIXED, 40, FD_NONE, 0},
        [VU_SET_VRING_BASE] = {"SET_VRING_BASE", SZ_FIXED, 8, FD_NONE, 0},
        [VU_GET_VRING_BASE] = {"GET_VRING_BASE", SZ_FIXED, 8, FD_NONE, 1},
        [VU_SET_VRING_KICK] = {"SET_VRING_KICK", SZ_FIXED, 8, FD_VRING, 0},
        [VU_SET_VRING_CALL] = {"SET_VRING_CALL", SZ_FIXED, 8, FD_VRING, 0},
        [VU_SET_VRING_ERR] = {"SET_VRING_ERR", SZ_FIXED, 8, FD_VRING, 0},
        [VU_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES", SZ_FIXED, 0, FD_NONE, 1},
        [VU_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES", SZ_FIXED, 8, FD_NONE, 0},
        [VU_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", SZ_FIXED, 0, FD_NONE, 1},
        [VU_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", SZ_FIXED, 8, FD_NONE, 0},
        [VU_GET_CONFIG] = {"GET_CONFIG", SZ_CONFIG, 0, FD_NONE, 1},
        [VU_SET_CONFIG] = {"SET_CONFIG", SZ_CONFIG, 0, FD_NONE, 0},
};

static const VuRule *vu_rule(uint32_t request)
{
        if (request >= VU_REQ_MAX || !vu_rules[request].name)
                return NULL;
        return &vu_rules[request];
}

const char *vu_msg_name(uint32_t request)
{
        const VuRule *r = vu_rule(request);
        return r ? r->name : "UNKNOWN";
}

int vu_msg_has_reply(uint32_t request)
{
        const VuRule *r = vu_rule(request);
        return r && r->reply;
}

void vu_msg_close_fds(VuMsg *m)
{
        for (unsigned i = 0; i < m->nfds; i++)
                if (m->fds[i] >= 0)
                        close(m->fds[i]);
        m->nfds = 0;
}

int vu_msg_take_fd(VuMsg *m, unsigned i)
{
        if (i >= m->nfds)
                return -1;
        return TAKE_FD(m->fds[i]);
}

/* Collects SCM_RIGHTS fds into m; a truncated control message means too many fds. */
static int vu_msg_collect_fds(struct msghdr *mh, VuMsg *m)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int fds[VU_MAX_FDS + 1];
                n = MIN(n, ELEMENTSOF(fds));
                memcpy(fds, CMSG_DATA(c), n * sizeof(int));
                for (size_t i = 0; i < n; i++) {
                        if (m->nfds < VU_MAX_FDS)
                                m->fds[m->nfds++] = fds[i];
                        else
                                close(fds[i]);
                }
        }
        return (mh->msg_flags & MSG_CTRUNC) ? -EMSGSIZE : 0;
}

static int vu_msg_recv_hdr(int fd, VuMsg *m)
{
        union {
                char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
                struct cmsghdr align;
        } ctl;
        uint8_t raw[VU_HDR_SIZE];
        struct iovec iov = {raw, sizeof(raw)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        int r = vu_msg_collect_fds(&mh, m);
        if (r < 0)
                return r;
        if ((size_t)n < sizeof(raw)) {
                r = fd_read_exact(fd, raw + n, sizeof(raw) - (size_t)n,
                                  now_ms() + VU_MSG_TIMEOUT_MS);
                if (r < 0)
                        return r;
        }
        memcpy(&m->hdr, raw, sizeof(raw));
        return 0;
}

int vu_msg_recv(int fd, VuMsg *m)
{
        m->nfds = 0;
        memset(&m->hdr, 0, sizeof(m->hdr));
        int r = vu_msg_recv_hdr(fd, m);
        if (r < 0)
                return r;
        if (m->hdr.size > VU_MAX_PAYLOAD)
                return -EMSGSIZE;
        memset(&m->p, 0, sizeof(m->p));
        if (m->hdr.size == 0)
                return 0;
        return fd_read_exact(fd, m->p.raw, m->hdr.size, now_ms() + VU_MSG_TIMEOUT_MS);
}

static int vu_msg_check_size(const VuRule *rule, const VuMsg *m)
{
        switch (rule->size_kind) {
        case SZ_MEMTABLE: {
                uint32_t n = m->p.mem.nregions;
                if (m->hdr.size < 8 || n > VU_MAX_MEM_REGIONS)
                        return -EBADMSG;
                return m->hdr.size == 8 + n * sizeof(VuMemRegion) ? 0 : -EBADMSG;
        }
        case SZ_CONFIG:
                if (m->hdr.size < 12 || m->p.config.size > VU_MAX_CONFIG)
                        return -EBADMSG;
                return m->hdr.size == 12 + m->p.config.size ? 0 : -EBADMSG;
        default:
                return m->hdr.size == rule->size ? 0 : -EBADMSG;
        }
}

static int vu_msg_check_fds(const VuRule *rule, const VuMsg *m)
{
        switch (rule->fds) {
        case FD_VRING: {
                bool nofd = m->p.u64 & VU_VRING_NOFD;
                if (m->p.u64 & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD))
                        return -EBADMSG;
                return m->nfds == (nofd ? 0u : 1u) ? 0 : -EBADMSG;
        }
        case FD_PER_REGION:
                return m->nfds == m->p.mem.nregions ? 0 : -EBADMSG;
        default:
                return m->nfds == 0 ? 0 : -EBADMSG;
        }
}

int vu_msg_check(const VuMsg *m)
{
        if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION ||
            (m->hdr.flags & VU_FLAG_REPLY))
                return -EBADMSG;
        const VuRule *rule = vu_rule(m->hdr.request);
        if (!rule)
                return -EOPNOTSUPP;
        int r = vu_msg_check_size(rule, m);
        if (r < 0)
                return r;
        return vu_msg_check_fds(rule, m);
}

int vu_msg_reply(int fd, uint32_t request, const void *payload, uint32_t size)
{
        uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
        if (size > VU_MAX_PAYLOAD)
                return -EMSGSIZE;
        VuHdr h = {.request = request, .flags = VU_FLAG_VERSION | VU_FLAG_REPLY, .size = size};
        memcpy(buf, &h, VU_HDR_SIZE);
        if (size)
                memcpy(buf + VU_HDR_SIZE, payload, size);
        return fd_write_all(fd, buf, VU_HDR_SIZE + size, now_ms() + VU_MSG_TIMEOUT_MS);
}
