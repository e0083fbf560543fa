/* vmm.h — one ember-vmm instance: the model, the engine, the hybrid-vsock muxer and the API,
 * driven by ONE poll loop in ONE thread (so the model needs no lock and every request is
 * served alone, as in Firecracker). InstanceStart, Ctrl-Alt-Del and FlushMetrics live here.
 * The guest's end ends the loop with exit status 0, like a Firecracker guest reboot. Never
 * unlinks the API socket or the vsock socket. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../shared/err.h"
#include "engine.h"
#include "model.h"

typedef struct Api Api;
typedef struct Muxer Muxer;

typedef struct Vmm {
        Model model;
        const EngineOps *ops;
        Engine *engine;
        Muxer *mux;      /* generic muxer over model.vsock_fd, once PUT /vsock succeeded */
        Api *api;
        bool route_logs; /* PUT /logger redirects this process's log lines (off in unit tests) */
        bool done;
        int exit_code;
        uint64_t api_requests;
} Vmm;

int vmm_init(Vmm *vm, const char *id, const EngineOps *ops, const EngineConfig *cfg, Err *e);
/* Kills a running guest (through the engine) and closes everything. */
void vmm_free(Vmm *vm);

/* The actions of PUT /actions; faults are fault_message texts. The router checked phases. */
int vmm_instance_start(Vmm *vm, Err *e);
int vmm_send_ctrl_alt_del(Vmm *vm, Err *e);
int vmm_flush_metrics(Vmm *vm, Err *e);
/* After PUT /logger or --log-path/--level: where this process's log lines go, and which. */
void vmm_logger_changed(Vmm *vm);
/* After a successful PUT /vsock: a muxer for the new listener (the old one is dropped). */
int vmm_vsock_changed(Vmm *vm, Err *e);

/* Serves the API on api_fd (borrowed) until the guest ends; returns the exit status. */
int vmm_serve(Vmm *vm, int api_fd, Err *e);
