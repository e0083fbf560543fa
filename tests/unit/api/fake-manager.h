/* fake-manager.h — an in-memory stand-in for src/sandbox's manager, for the api unit tests
 * only: sandboxes are records, exec returns what the test put in fake_exec. Never in src/. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "sandbox/manager.h"

typedef struct FakeExec {
        const char *out;
        size_t out_len;
        const char *err;
        size_t err_len;
        int exit_code, signal;
        bool timed_out;
        const char *status; /* NULL = "ok" */
        bool limits_enforced;
        uint64_t cpu_time_ms, peak_memory_kib;
        bool block; /* manager_exec waits until fake_exec_release() */
} FakeExec;

extern FakeExec fake_exec;
extern int fake_create_errno;       /* next creates fail with this (0 = succeed) */
extern const char *fake_create_code;
extern ExecRequest fake_last_exec;  /* shallow copy of the last request (pointers die) */
extern SandboxSpec fake_last_spec;
extern size_t fake_last_spec_n_env; /* entries of fake_last_spec.env at the call */
extern unsigned fake_exec_waiting;  /* execs blocked right now */

void fake_exec_release(void);
/* Waits (no time limit: the test harness's timeout is the bound) until n execs block. */
void fake_exec_wait_blocked(unsigned n);
