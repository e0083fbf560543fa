/* ringbuf.h — a bounded byte FIFO for guest->host bytes the host socket could not take
 * yet. Storage is allocated on first use (most connections never need it) and never
 * grows past its capacity: a push that does not fit fails and changes nothing. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct RingBuf {
        uint8_t *data;
        uint32_t cap, head, len;
} RingBuf;

void ringbuf_init(RingBuf *b, uint32_t cap);
/* Appends the bytes of iov[] after skipping the first skip bytes; -ENOBUFS if they do
 * not fit, -ENOMEM if storage cannot be allocated. */
int ringbuf_push(RingBuf *b, const struct iovec *iov, unsigned n, size_t skip);
/* Sends as much as the (non-blocking) socket takes; returns bytes sent or -errno
 * (-EAGAIN when nothing could be sent). */
ssize_t ringbuf_send(RingBuf *b, int fd);
void ringbuf_free(RingBuf *b);
