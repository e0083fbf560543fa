/* engine.h — how ember-vmm runs a guest: one ops table per engine (process, qemu). The API
 * side (model, router) never knows which engine runs; an engine never speaks HTTP and never
 * touches the model after start. Hybrid vsock: an engine either opens guest ports for the
 * generic muxer (open_port) or owns the whole uds_path listener itself (attach_vsock, for a
 * vhost-user backend with its own muxer). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../shared/err.h"
#include "model.h"

typedef struct Engine Engine;

typedef struct EngineConfig {
        const char *init_path; /* process engine: emberd-init */
        const char *qemu_bin;  /* qemu engine: NULL = qemu-system-x86_64 in PATH */
        const char *accel;     /* qemu engine: "kvm", "tcg", or NULL/"auto" = probe */
} EngineConfig;

typedef struct EngineOps {
        const char *name;
        int (*create)(const EngineConfig *cfg, Engine **ret, Err *e);
        /* Boots the guest described by m (files opened at PUT time are in m). console_fd is
         * the guest's serial output (borrowed; dup it to keep it). Returns once the guest
         * runs, like InstanceStart; on failure nothing is left running. */
        int (*start)(Engine *en, const Model *m, int console_fd, Err *e);
        int (*ctrl_alt_del)(Engine *en, Err *e);
        /* A connected, non-blocking stream to guest port `port`; -ECONNREFUSED when nothing
         * listens there (a guest RST). Optional: NULL when attach_vsock is used. */
        int (*open_port)(Engine *en, uint32_t port, int *ret_fd);
        /* Optional: takes the listening uds_path socket (ownership passes) at start. */
        int (*attach_vsock)(Engine *en, int listen_fd, Err *e);
        /* Pollable fd, POLLIN once the guest has ended; -1 before start. */
        int (*exit_fd)(Engine *en);
        /* After exit_fd fired: reaps and describes how the guest ended ("exited with 0").
         * Returns 0 for a guest's own end (reboot, panic), or > 0, the exit status ember-vmm
         * ends with, when what ran it crashed (the qemu engine: QEMU killed or failing). */
        int (*reap)(Engine *en, char *how, size_t how_size);
        /* Kills a running guest, waits for it, releases everything. NULL-safe. */
        void (*destroy)(Engine *en);
} EngineOps;

extern const EngineOps engine_process_ops;
extern const EngineOps engine_qemu_ops;

/* The engine of that name; NULL when unknown or known but not built yet (*ret_known). */
const EngineOps *engine_find(const char *name, bool *ret_known);
