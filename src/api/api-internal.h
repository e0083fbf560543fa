/* api-internal.h — the Api object as seen by the files of src/api only. */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "api.h"

typedef struct Listener Listener;

struct Api {
        Manager *manager;
        const Settings *settings;
        char *token; /* NULL = no listener may demand one */
        bool token_on_loopback;
        unsigned socket_mode;
        gid_t socket_gid; /* (gid_t)-1 = unchanged */
        size_t max_body_bytes;
        unsigned max_connections, idle_timeout_s;
        const char *version;
        Listener **listeners;
        size_t n_listeners;
        _Atomic uint64_t http_status[600]; /* requests answered, by status code */
};

/* Counts one answered request (for ember_http_requests_total). */
void api_count_status(Api *api, unsigned status);
/* Frees one listener (server.c). */
void listener_free(Listener *l);
