/* queue.c — see queue.h. Compacts before growing, so a queue that is drained as fast as it
 * is filled never reallocates. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void queue_init(Queue *q, size_t max) { *q = (Queue){.max = max}; }

size_t queue_room(const Queue *q) { return q->max - q->len; }

static int queue_reserve(Queue *q, size_t n)
{
        if (q->off + q->len + n <= q->alloc)
                return 0;
        if (q->off > 0) {
                memmove(q->data, q->data + q->off, q->len);
                q->off = 0;
                if (q->len + n <= q->alloc)
                        return 0;
        }
        size_t na = q->alloc ? q->alloc : 4096;
        while (na < q->len + n)
                na *= 2;
        if (na > q->max)
                na = q->max;
        uint8_t *nd = realloc(q->data, na);
        if (!nd)
                return -ENOMEM;
        q->data = nd;
        q->alloc = na;
        return 0;
}

int queue_push(Queue *q, const void *p, size_t n)
{
        if (n > queue_room(q))
                return -ENOBUFS;
        int r = queue_reserve(q, n);
        if (r < 0)
                return r;
        memcpy(q->data + q->off + q->len, p, n);
        q->len += n;
        return 0;
}

void queue_pop(Queue *q, size_t n)
{
        if (n >= q->len) {
                q->off = q->len = 0;
                return;
        }
        q->off += n;
        q->len -= n;
}

void queue_clear(Queue *q) { q->off = q->len = 0; }

void queue_free(Queue *q)
{
        free(q->data);
        *q = (Queue){0};
}
