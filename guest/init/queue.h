/* queue.h — a FIFO of bytes with a hard size limit, for the agent's stdin and output queues.
 * Push beyond the limit fails with -ENOBUFS instead of growing: callers stop reading their
 * source until the queue drains (back-pressure). No I/O here. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct Queue {
        uint8_t *data;
        size_t off, len, alloc, max;
} Queue;

void queue_init(Queue *q, size_t max);
int queue_push(Queue *q, const void *p, size_t n); /* -ENOBUFS over max, -ENOMEM */
size_t queue_room(const Queue *q);
static inline const uint8_t *queue_head(const Queue *q) { return q->data + q->off; }
void queue_pop(Queue *q, size_t n);
void queue_clear(Queue *q); /* drops the content, keeps the memory */
void queue_free(Queue *q);
