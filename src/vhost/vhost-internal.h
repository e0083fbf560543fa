/* vhost-internal.h — state shared by the backend's files: the vhost-user front-end
 * (vu-dev.c), the virtio-vsock rings (vsock-dev.c), the hybrid muxer (mux.c) and its
 * connections (vsock-conn.c). Everything here is touched only by the backend thread
 * (vhost-vsock.c), so nothing is locked. Not for use outside src/vhost. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ringbuf.h"
#include "vhost-vsock.h"
#include "virtq.h"
#include "vsock-pkt.h"
#include "vu-mem.h"

/* An epoll source: epoll_event.data.ptr points at one, the loop calls fn. */
typedef struct EvSrc EvSrc;
typedef void (*EvFn)(VhostVsock *v, EvSrc *s, uint32_t events);
struct EvSrc {
        EvFn fn;
};

typedef struct ListNode {
        struct ListNode *prev, *next;
} ListNode;

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void list_init(ListNode *h) { h->prev = h->next = h; }
static inline bool list_empty(const ListNode *h) { return h->next == h; }
static inline void list_add_tail(ListNode *h, ListNode *n)
{
        n->prev = h->prev;
        n->next = h;
        h->prev->next = n;
        h->prev = n;
}
static inline void list_del(ListNode *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = n;
}

enum { VQ_RX = 0, VQ_TX = 1, VQ_COUNT = 2 };

typedef struct VuDev {
        EvSrc ev_listen, ev_conn, ev_kick[VQ_COUNT];
        int listen_fd, fd; /* fd: the connected front-end, or -1 */
        uint64_t features, protocol_features;
        VuMem mem;
        Virtq vq[VQ_COUNT];
} VuDev;

typedef enum {
        CONN_CMD,        /* host client: reading its CONNECT line (not keyed yet) */
        CONN_LOCAL_INIT, /* host-initiated: REQUEST queued or sent, awaiting RESPONSE */
        CONN_PEER_INIT,  /* guest-initiated: RESPONSE queued */
        CONN_ESTABLISHED,
} ConnState;

enum { /* control packets a connection owes the guest */
        PEND_REQUEST = 1u << 0,
        PEND_RESPONSE = 1u << 1,
        PEND_SHUTDOWN = 1u << 2,
        PEND_CREDIT_REQUEST = 1u << 3,
        PEND_CREDIT_UPDATE = 1u << 4,
};

typedef struct VsockConn {
        EvSrc ev;
        int fd;
        ConnState state;
        uint32_t local_port, peer_port; /* key; host side is always CID 2 */
        bool keyed, guest_knows, dead, in_rxq;
        unsigned pending;                /* PEND_* */
        uint32_t local_shut, peer_shut;  /* VSOCK_SHUTDOWN_* sent / received */
        bool host_readable, host_hup, host_wr_shut, credit_requested;
        int64_t deadline;                /* ms, 0 = none; on expiry: kill */
        Credit credit;
        RingBuf wbuf;                    /* guest bytes the host socket did not take */
        struct VsockConn *hnext;
        ListNode all, rxq;
} VsockConn;

#define MUX_BUCKETS 1024u

typedef struct RstKey {
        uint32_t local, peer;
} RstKey;

typedef struct Mux {
        EvSrc ev_listen;
        int listen_fd;
        char *uds_path;
        VsockConn *table[MUX_BUCKETS];
        ListNode all, rxq, dead;
        unsigned nconns; /* incl. CONN_CMD, excl. dead */
        uint32_t next_port;
        RstKey rst[VSOCK_RST_QUEUE];
        unsigned rst_head, rst_len;
        int64_t timer_next; /* earliest deadline, 0 = none */
        int64_t listen_resume; /* listener paused (out of fds) until then, 0 = active */
} Mux;

struct VhostVsock {
        char *vhost_socket;
        uint64_t guest_cid;
        int epfd, stop_fd;
        EvSrc ev_stop;
        bool stop, running, more;
        pthread_t thread;
        VuDev dev;
        Mux mux;
        int64_t warn_window;
        unsigned warn_count;
};

/* vhost-vsock.c */
int vhost_epoll_add(VhostVsock *v, int fd, uint32_t events, EvSrc *s);
void vhost_epoll_del(VhostVsock *v, int fd);
/* Rate-limited warning about something a guest or client did. */
void vhost_warn(VhostVsock *v, const char *fmt, ...) _printf_(2, 3);

/* vu-dev.c — the vhost-user front-end */
void vu_dev_init(VuDev *d);
int vu_dev_listen(VhostVsock *v, const char *path, Err *e);
void vu_dev_free(VhostVsock *v);

/* vsock-dev.c — the rings; returns true if work was left for the next round */
bool vsock_dev_run(VhostVsock *v);

/* mux.c — hybrid sockets, the connection table, timers */
void mux_init(Mux *mx);
/* The EvFn of every connection (host socket events, CONNECT line reading). */
void mux_conn_event(VhostVsock *v, EvSrc *s, uint32_t events);
/* Registers a new connection (list, count, epoll); on failure the caller frees it. */
int mux_add(VhostVsock *v, VsockConn *c);
/* Listens on uds_path, or adopts uds_fd (>= 0: already listening there; owned even on failure). */
int mux_listen(VhostVsock *v, const char *uds_path, int uds_fd, Err *e);
void mux_free(VhostVsock *v);
VsockConn *mux_lookup(Mux *mx, uint32_t local, uint32_t peer);
int mux_insert(Mux *mx, VsockConn *c);
/* Ends a connection now (fd closed, freed after the current loop round); with rst the
 * guest is told (when it knows the connection). */
void mux_kill(VhostVsock *v, VsockConn *c, bool rst);
void mux_rst_push(Mux *mx, uint32_t local, uint32_t peer);
void mux_rx_want(Mux *mx, VsockConn *c); /* queue c for the rx ring if it has work */
bool mux_has_rx(const Mux *mx);
void mux_set_deadline(Mux *mx, VsockConn *c, int64_t deadline);
/* Device reset or front-end gone: drops every connection the guest knew about. */
void mux_reset(VhostVsock *v);
void mux_timers(VhostVsock *v);
int mux_timeout_ms(const Mux *mx); /* for epoll_wait; -1 = none */
void mux_reap(Mux *mx);            /* frees killed connections */
/* A packet from the guest (already decoded); payload is at offset 44 of ch. */
void mux_guest_pkt(VhostVsock *v, const VsockHdr *h, const VirtqChain *ch);
/* Fills one rx chain (>= 44 writable bytes) with the next packet; 0 = nothing to send. */
uint32_t mux_rx_fill(VhostVsock *v, const VirtqChain *ch);

/* vsock-conn.c — one connection */
VsockConn *conn_new(int fd, ConnState state);
void conn_free(VsockConn *c);
bool conn_needs_rx(const VsockConn *c);
void conn_host_event(VhostVsock *v, VsockConn *c, uint32_t events);
void conn_guest_pkt(VhostVsock *v, VsockConn *c, const VsockHdr *h, const VirtqChain *ch);
/* Guest REQUEST to an unknown key: connect to <uds_path>_<port> or RST. */
void conn_guest_connect(VhostVsock *v, const VsockHdr *h);
/* > 0: bytes written into ch; 0: nothing to send; < 0: kill the connection (RST). */
int conn_emit(VhostVsock *v, VsockConn *c, const VirtqChain *ch);
