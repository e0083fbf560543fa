/* ringbuf.c — see ringbuf.h. Sends use MSG_NOSIGNAL: a vanished host peer must turn into
 * -EPIPE, never into a SIGPIPE for the whole process. */
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/cleanup.h"

void ringbuf_init(RingBuf *b, uint32_t cap) { *b = (RingBuf){.cap = cap}; }

int ringbuf_push(RingBuf *b, const struct iovec *iov, unsigned n, size_t skip)
{
        size_t total = 0;
        for (unsigned i = 0; i < n; i++)
                total += iov[i].iov_len;
        total = total > skip ? total - skip : 0;
        if (total > (size_t)(b->cap - b->len))
                return -ENOBUFS;
        if (total > 0 && !b->data && !(b->data = malloc(b->cap)))
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                const uint8_t *p = iov[i].iov_base;
                size_t l = iov[i].iov_len;
                size_t s = MIN(skip, l);
                p += s, l -= s, skip -= s;
                while (l > 0) {
                        uint32_t tail = (b->head + b->len) % b->cap;
                        size_t run = MIN(l, (size_t)(b->cap - tail));
                        memcpy(b->data + tail, p, run);
                        b->len += (uint32_t)run;
                        p += run, l -= run;
                }
        }
        return 0;
}

ssize_t ringbuf_send(RingBuf *b, int fd)
{
        if (b->len == 0)
                return 0;
        uint32_t first = MIN(b->len, b->cap - b->head);
        struct iovec iov[2] = {{b->data + b->head, first}, {b->data, b->len - first}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = iov[1].iov_len ? 2 : 1};
        ssize_t n;
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        b->head = (uint32_t)((b->head + (size_t)n) % b->cap);
        b->len -= (uint32_t)n;
        if (b->len == 0)
                b->head = 0;
        return n;
}

void ringbuf_free(RingBuf *b)
{
        free(b->data);
        *b = (RingBuf){.cap = b->cap};
}
