/* fuzz-util.c — see fuzz-util.h. Nothing here may hide a finding: a failed check aborts,
 * and the environment helpers only ever touch their own scratch directory. */
#include "fuzz-util.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/util.h"

const char *fuzz_input_name;

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "%s:%d: fuzz check failed", file, line);
        if (fuzz_input_name)
                fprintf(stderr, " (input %s)", fuzz_input_name);
        fputs(": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

/* ---- cursor ---- */

size_t fuzz_take(FuzzIn *in, size_t n, const uint8_t **ret)
{
        n = MIN(n, in->len);
        *ret = in->p;
        if (n) { /* an empty input may come as a NULL pointer */
                in->p += n;
                in->len -= n;
        }
        return n;
}

static void take_le(FuzzIn *in, void *out, size_t n)
{
        const uint8_t *p;
        size_t got = fuzz_take(in, n, &p);
        memset(out, 0, n);
        if (got)
                memcpy(out, p, got);
}

uint8_t fuzz_u8(FuzzIn *in)
{
        uint8_t v;
        take_le(in, &v, 1);
        return v;
}

uint16_t fuzz_u16(FuzzIn *in)
{
        uint16_t v;
        take_le(in, &v, 2);
        return le16toh(v);
}

uint32_t fuzz_u32(FuzzIn *in)
{
        uint32_t v;
        take_le(in, &v, 4);
        return le32toh(v);
}

uint64_t fuzz_u64(FuzzIn *in)
{
        uint64_t v;
        take_le(in, &v, 8);
        return le64toh(v);
}

/* ---- text requests ---- */

static char *strndup_or_die(const uint8_t *p, size_t n)
{
        char *s = strndup((const char *)p, n); /* stops at a NUL byte, like a C API would */
        FUZZ_CHECK(s, "out of memory");
        return s;
}

bool fuzz_next_request(FuzzIn *in, FuzzReq *ret)
{
        *ret = (FuzzReq){0};
        if (in->len == 0)
                return false;
        const uint8_t *sep = memmem(in->p, in->len, FUZZ_REQ_SEP, strlen(FUZZ_REQ_SEP));
        size_t n = sep ? (size_t)(sep - in->p) : in->len;
        const uint8_t *req = in->p;
        in->p += sep ? n + strlen(FUZZ_REQ_SEP) : n;
        in->len -= sep ? n + strlen(FUZZ_REQ_SEP) : n;

        const uint8_t *nl = memchr(req, '\n', n);
        size_t line = nl ? (size_t)(nl - req) : n;
        const uint8_t *sp = memchr(req, ' ', line);
        size_t mlen = sp ? (size_t)(sp - req) : line;
        ret->method = strndup_or_die(req, mlen);
        ret->path = sp ? strndup_or_die(sp + 1, line - mlen - 1) : strndup_or_die(req, 0);
        if (nl && n > line + 1) {
                ret->body_len = n - line - 1;
                ret->body = malloc(ret->body_len);
                FUZZ_CHECK(ret->body, "out of memory");
                memcpy(ret->body, nl + 1, ret->body_len);
        }
        return true;
}

void fuzz_req_free(FuzzReq *r)
{
        free(r->method);
        free(r->path);
        free(r->body);
        *r = (FuzzReq){0};
}

/* ---- environment ---- */

static char scratch[256];

/* tmpfs when there is one: the fc-api target creates and removes files on every input */
static const char *scratch_parent(void)
{
        return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void scratch_remove(void)
{
        if (scratch[0])
                (void)rm_rf(scratch);
}

/* A crashed fuzzer cannot clean up after itself: its successor does. */
static void scratch_remove_stale(void)
{
        DIR *d = opendir(scratch_parent());
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                char tag[64];
                int pid = 0;
                if (sscanf(de->d_name, "ember-fuzz-%63[^-]-%d.", tag, &pid) != 2 || pid <= 0)
                        continue;
                if (kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", scratch_parent(), de->d_name);
                (void)rm_rf(path);
        }
        closedir(d);
}

const char *fuzz_scratch_dir(const char *tag)
{
        if (scratch[0])
                return scratch;
        scratch_remove_stale();
        snprintf(scratch, sizeof(scratch), "%s/ember-fuzz-%s-%d.XXXXXX", scratch_parent(), tag,
                 (int)getpid());
        FUZZ_CHECK(mkdtemp(scratch), "mkdtemp %s: %m", scratch);
        atexit(scratch_remove);
        return scratch;
}

void fuzz_scratch_clean(void)
{
        int dfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(dfd >= 0, "open %s: %m", scratch);
        DIR *d = fdopendir(dfd);
        FUZZ_CHECK(d, "fdopendir: %m");
        for (struct dirent *de; (de = readdir(d));) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (unlinkat(dfd, de->d_name, 0) < 0 && errno == EISDIR)
                        (void)unlinkat(dfd, de->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

uint64_t fuzz_fd_snapshot(void)
{
        struct pollfd p[64];
        for (int i = 0; i < 64; i++)
                p[i] = (struct pollfd){.fd = i};
        int r;
        do /* one call: POLLNVAL = not open (EINTR: libFuzzer's -timeout alarm) */
                r = poll(p, 64, 0);
        while (r < 0 && errno == EINTR);
        FUZZ_CHECK(r >= 0, "poll: %m");
        uint64_t open_fds = 0;
        for (int i = 0; i < 64; i++)
                if (!(p[i].revents & POLLNVAL))
                        open_fds |= 1ull << i;
        return open_fds;
}

void fuzz_fd_check(uint64_t before)
{
        uint64_t leaked = fuzz_fd_snapshot() & ~before;
        FUZZ_CHECK(!leaked, "the input left fd %d open", __builtin_ctzll(leaked));
}

void fuzz_quiet(void) { log_set_level(0); }
