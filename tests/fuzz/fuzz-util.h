/* fuzz-util.h — what the fuzz targets of tests/fuzz share: a cursor over the input, the
 * text request format of the API targets, checks that abort (libFuzzer and the replay test
 * both report an abort as a finding), a private scratch directory and an fd-leak check.
 * Test code only: never linked into anything under src/. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/cleanup.h"

/* libFuzzer's entry points; the replay driver (replay.c) calls the same two. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- checks ---- */

/* Name of the input being replayed (replay.c), for the failure message; NULL in libFuzzer. */
extern const char *fuzz_input_name;

__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *fmt, ...) _printf_(3, 4);
#define FUZZ_CHECK(cond, ...)                                                                      \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
        } while (0)

/* ---- a cursor over the input: reads past the end give zeros ---- */

typedef struct FuzzIn {
        const uint8_t *p;
        size_t len;
} FuzzIn;

uint8_t fuzz_u8(FuzzIn *in);
uint16_t fuzz_u16(FuzzIn *in);
uint32_t fuzz_u32(FuzzIn *in);
uint64_t fuzz_u64(FuzzIn *in);
/* Up to n bytes (fewer at the end of the input); *ret points into the input. */
size_t fuzz_take(FuzzIn *in, size_t n, const uint8_t **ret);

/* ---- the text format of fuzz-api and fuzz-fc-api ----
 * Requests separated by FUZZ_REQ_SEP; each is "METHOD PATH" up to the first '\n', then the
 * body (possibly empty). A request without '\n' has no body; one without ' ' has path "". */
#define FUZZ_REQ_SEP "\n%%\n"

typedef struct FuzzReq {
        char *method, *path; /* NUL-terminated copies (a NUL byte in the input ends them) */
        uint8_t *body;       /* malloc'd copy of exactly body_len bytes, NULL when empty */
        size_t body_len;
} FuzzReq;

/* Splits the next request off in; false when the input is used up. */
bool fuzz_next_request(FuzzIn *in, FuzzReq *ret);
void fuzz_req_free(FuzzReq *r);

/* ---- environment ---- */

/* Creates (once per process) an empty private directory ember-fuzz-<tag>-<pid>.XXXXXX in
 * /dev/shm (else /tmp), removed at exit; stale ones of dead processes are removed first.
 * Returns its path. */
const char *fuzz_scratch_dir(const char *tag);
/* Removes every entry of the scratch directory (flat: the targets create no subdirs). */
void fuzz_scratch_clean(void);
/* Which of the fds 0-63 are open (bit i = fd i). An input that ends with an fd open that
 * was not open when it began leaked it: fuzz_fd_check() aborts then. */
uint64_t fuzz_fd_snapshot(void);
void fuzz_fd_check(uint64_t before);
/* Silences shared/log (the code under test logs on the way). */
void fuzz_quiet(void);
