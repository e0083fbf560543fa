/* fuzz-http.c — emberd's HTTP transport as a client meets it: the input is the raw bytes of
 * one connection to a real listener (libmicrohttpd + src/api/server.c) over the fake
 * manager; every response is read until the server closes and checked. Must not wait
 * without bound: a server that neither answers nor closes in time is a finding. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "fake-manager.h"
#include "fuzz-util.h"
#include "shared/util.h"

/* The listener is a Unix socket in a scratch directory, with a 4 KiB body limit so that
 * every limit (body, drain, 100-continue, bearer token) is reached by small inputs.
 * Checks: the server closes within FUZZ_HTTP_WAIT_MS, every status is one ember or
 * libmicrohttpd may give, ember's JSON bodies parse, no 500 internal_error. The server's
 * threads are MHD's, so coverage is not exactly repeatable; findings still are.
 * Input: raw HTTP/1.x bytes; the token is "fuzz-token". */

#define FUZZ_HTTP_WAIT_MS 5000
#define FUZZ_HTTP_MAX_BODY 4096u
#define FUZZ_HTTP_REPLY_MAX (256u << 10)

static Pack packs[] = {{.name = "python", .vcpus = 1, .memory_mib = 256}};
static Settings settings = {.packs = packs, .n_packs = 1, .max_sandboxes = 4, .max_vcpus = 4,
                            .max_memory_mib = 2048};
static Manager *manager;
static Api *api;
static char sock_path[108];

static const unsigned allowed_status[] = {100, 200, 201, 204, 400, 401, 404, 405, 413, 414,
                                          417, 431, 500, 501, 505};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_quiet();
        const char *dir = fuzz_scratch_dir("http");
        int n = snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
        FUZZ_CHECK(n > 0 && (size_t)n < sizeof(sock_path), "scratch path too long");
        Err e = {0};
        ApiOptions o = {.token = "fuzz-token", .max_body_bytes = FUZZ_HTTP_MAX_BODY,
                        .max_connections = 16, .idle_timeout_s = 1};
        char addr[128];
        snprintf(addr, sizeof(addr), "unix:%s", sock_path);
        FUZZ_CHECK(manager_new(&settings, &manager, &e) == 0, "manager_new: %s", e.msg);
        FUZZ_CHECK(api_new(manager, &settings, &o, &api, &e) == 0, "api_new: %s", e.msg);
        FUZZ_CHECK(api_listen_with_token(api, addr, &e) == 0, "api_listen: %s", e.msg);
        return 0;
}

/* Sends the input while reading what comes back, shuts the write side after it, and reads
 * until the server closes. Returns the bytes read (kept up to max). */
static size_t converse(int fd, const uint8_t *p, size_t len, uint8_t *out, size_t max)
{
        size_t sent = 0, got = 0;
        bool shut = false;
        int64_t deadline = now_ms() + FUZZ_HTTP_WAIT_MS;
        for (;;) {
                if (sent == len && !shut) {
                        shutdown(fd, SHUT_WR);
                        shut = true;
                }
                struct pollfd pf = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
                int r = poll(&pf, 1, deadline_left(deadline));
                if (r < 0 && errno == EINTR)
                        continue; /* libFuzzer's -timeout alarm */
                FUZZ_CHECK(r >= 0, "poll: %m");
                FUZZ_CHECK(r > 0, "the server neither answered nor closed in %d ms",
                           FUZZ_HTTP_WAIT_MS);
                if (!shut && (pf.revents & POLLOUT)) {
                        ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n > 0)
                                sent += (size_t)n;
                        else if (n < 0 && errno != EAGAIN)
                                sent = len; /* the server closed: stop sending */
                }
                if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
                        uint8_t buf[8192];
                        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN))
                                return got;
                        if (n > 0 && got < max) {
                                memcpy(out + got, buf, MIN((size_t)n, max - got));
                                got += MIN((size_t)n, max - got);
                        }
                }
        }
}

static bool status_allowed(unsigned s)
{
        for (size_t i = 0; i < ELEMENTSOF(allowed_status); i++)
                if (allowed_status[i] == s)
                        return true;
        return false;
}

/* One response at p: status, headers, and a JSON body when it says so. Returns its length,
 * 0 when the rest cannot be framed (then nothing more is checked). */
static size_t check_response(const char *p, size_t len)
{
        unsigned status = 0;
        const char *end = memmem(p, len, "\r\n\r\n", 4);
        if (!end || sscanf(p, "HTTP/1.%*1[01] %3u", &status) != 1)
                return 0;
        FUZZ_CHECK(status_allowed(status), "status %u", status);
        size_t hlen = (size_t)(end - p) + 4, clen = 0;
        _cleanup_free_ char *head = strndup(p, hlen);
        FUZZ_CHECK(head, "out of memory");
        const char *cl = strcasestr(head, "\r\nContent-Length:");
        if (cl)
                clen = strtoul(cl + 17, NULL, 10);
        else if (status >= 200 && status != 204)
                return 0; /* closes to end its body: nothing after it */
        if (clen > len - hlen)
                return 0;
        if (strcasestr(head, "\r\nContent-Type: application/json")) {
                json_error_t je;
                json_t *j = json_loadb(p + hlen, clen, JSON_ALLOW_NUL, &je);
                FUZZ_CHECK(json_is_object(j), "status %u: body is not a JSON object (%s)", status,
                           je.text);
                FUZZ_CHECK(status != 500 || !json_object_get(j, "error") ||
                                   strcmp(json_string_value(json_object_get(
                                                  json_object_get(j, "error"), "code")),
                                          "internal_error"),
                           "ember answered 500 internal_error");
                json_decref(j);
        }
        return hlen + clen;
}

/* Every input starts from an empty manager (sandboxes created by the last one removed). */
static void manager_reset(void)
{
        SandboxInfo *list = NULL;
        size_t n = 0;
        Err e = {0};
        if (manager_list(manager, &list, &n) == 0)
                for (size_t i = 0; i < n; i++)
                        (void)manager_delete(manager, list[i].id, &e);
        free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fd = -1;
        FUZZ_CHECK(unix_connect(sock_path, &fd) == 0, "connect %s: %m", sock_path);
        _cleanup_free_ uint8_t *reply = malloc(FUZZ_HTTP_REPLY_MAX + 1);
        FUZZ_CHECK(reply, "out of memory");
        size_t n = converse(fd, data, size, reply, FUZZ_HTTP_REPLY_MAX);
        close(fd);
        reply[n] = 0;
        for (size_t off = 0, step; off < n; off += step)
                if (!(step = check_response((const char *)reply + off, n - off)))
                        break;
        manager_reset();
        return 0;
}
