/* test-compat-live-api.c — the real ember-vmm binary over its Unix socket with raw HTTP:
 * keep-alive, micro-http's transport rules (204 without Content-Length, the 51200-byte body
 * limit, the canned 503 past 10 connections), Firecracker's exit statuses for bad arguments
 * and a taken socket, and that the API socket is never unlinked. Needs no emberd-init. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "live.h"
#include "shared/cleanup.h"
#include "shared/util.h"
#include "test.h"

static void test_keep_alive(Live *l)
{
        HttpResp r;
        _cleanup_close_ int fd = live_connect(l->api);
        CHECK(fd >= 0);
        CHECK(live_http_on(fd, "GET", "/", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(strstr(r.body, "\"id\":\"live-api\",\"state\":\"Not started\"") != NULL);
        CHECK(live_header_has(&r, "Server: Firecracker API"));
        CHECK(live_header_has(&r, "Content-Type: application/json"));
        CHECK(live_http_on(fd, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}",
                           &r) == 0);
        CHECK_EQ_INT(r.status, 204);
        CHECK(strcasestr(r.head, "Content-Length") == NULL);
        CHECK(live_http_on(fd, "GET", "/machine-config", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(strstr(r.body, "\"vcpu_count\":2,\"mem_size_mib\":64") != NULL);
        CHECK(live_http_on(fd, "GET", "/", "{}", &r) == 0);
        CHECK_EQ_INT(r.status, 400);
        CHECK_STR(r.body, "{\"fault_message\":\"GET request cannot have a body.\"}");
        CHECK(live_http_on(fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r) == 0);
        CHECK_EQ_INT(r.status, 400);
        CHECK(strstr(r.body, "Start microvm error: Cannot start microvm without kernel "
                             "configuration.") != NULL);
}

static void test_payload_limit(Live *l)
{
        static const char req[] = "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 51201\r\n\r\n";
        char buf[1024];
        _cleanup_close_ int fd = live_connect(l->api);
        CHECK(fd >= 0 && fd_write_all(fd, req, sizeof(req) - 1, -1) == 0);
        int n = live_read_all(fd, buf, sizeof(buf) - 1);
        CHECK(n > 0);
        buf[n > 0 ? n : 0] = 0;
        CHECK(!strncmp(buf, "HTTP/1.1 400", 12));
        CHECK(strstr(buf, "{ \"error\": \"Request payload with size 51201 is larger than the "
                          "limit of 51200 allowed by server.\nAll previous unanswered requests "
                          "will be dropped.\" }") != NULL);
        /* exactly the limit is fine (and a bad body then gets an ordinary fault) */
        static char body[51201];
        memset(body, ' ', 51200);
        body[0] = '{';
        body[51199] = '}';
        HttpResp r;
        CHECK(live_http(l, "PUT", "/entropy", body, &r) == 0);
        CHECK_EQ_INT(r.status, 204);
}

static void test_connection_limit(Live *l)
{
        int fds[10];
        HttpResp r;
        for (int i = 0; i < 10; i++) {
                fds[i] = live_connect(l->api);
                CHECK(fds[i] >= 0 && live_http_on(fds[i], "GET", "/version", NULL, &r) == 0);
                CHECK_EQ_INT(r.status, 200);
        }
        char buf[512];
        int fd = live_connect(l->api);
        int n = fd >= 0 ? live_read_all(fd, buf, sizeof(buf) - 1) : -1;
        buf[n > 0 ? n : 0] = 0;
        CHECK_STR(buf, "HTTP/1.1 503\r\nServer: Firecracker API\r\nConnection: close\r\n"
                       "Content-Length: 40\r\n\r\n{ \"error\": \"Too many open connections\" }");
        if (fd >= 0)
                close(fd);
        close(fds[0]);
        /* the server sees the close before the next accept */
        bool served = false;
        for (int64_t deadline = now_ms() + LIVE_WAIT_MS; !served && now_ms() < deadline;)
                served = live_http(l, "GET", "/version", NULL, &r) == 0 && r.status == 200;
        CHECK(served);
        for (int i = 1; i < 10; i++)
                close(fds[i]);
}

static void test_socket_taken(Live *l)
{
        char out[4096];
        const char *args[] = {"--api-sock", l->api, NULL};
        CHECK_EQ_INT(live_run(args, out, sizeof(out)), 1);
        CHECK(strstr(out, "Failed to open the API socket at: ") != NULL);
}

static void test_bad_arguments(const Live *l)
{
        char out[4096], sock[128];
        snprintf(sock, sizeof(sock), "%s/other.sock", l->dir);
        static const struct {
                const char *args[6];
                int status;
                const char *expect;
        } cases[] = {
                {{"--bogus", NULL}, 153, "Found argument '--bogus' which wasn't expected"},
                {{"--id", "x", NULL}, 153, "Missing argument: api-sock."},
                {{"--api-sock", NULL}, 153, "requires a value"},
                {{"--api-sock", "S", "--id", "bad id!", NULL}, 153, "Invalid instance ID"},
                {{"--api-sock", "S", "--id", "a", "--id", NULL}, 153, "provided more than once"},
                {{"--api-sock", "S", "--engine", "kvm", NULL}, 153, "--engine"},
                {{"--api-sock", "S", "--engine", "qemu", "--accel=warp", NULL}, 1, "--accel warp"},
                {{"--api-sock", "S", "--level", "loud", NULL}, 152, "Invalid value for logger level"},
                {{"--version", NULL}, 0, "Firecracker v1.16.1"},
                {{"--help", NULL}, 0, "--api-sock"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *args[6];
                for (size_t k = 0; k < 6; k++)
                        args[k] = cases[i].args[k] && !strcmp(cases[i].args[k], "S") ? sock
                                                                                       : cases[i].args[k];
                int st = live_run(args, out, sizeof(out));
                bool ok = st == cases[i].status && strstr(out, cases[i].expect);
                CHECK(ok);
                if (!ok)
                        fprintf(stderr, "  case %zu: status %d, output: %s\n", i, st, out);
        }
        CHECK(access(sock, F_OK) < 0); /* none of them bound the socket */
}

static void run(void)
{
        Live l;
        CHECK(live_setup(&l, "compat-live-api") == 0);
        const char *args[] = {"--id", "live-api", "--level", "Debug", NULL};
        CHECK(live_spawn(&l, args) == 0);
        CHECK(live_wait_socket(&l) == 0);
        test_keep_alive(&l);
        test_payload_limit(&l);
        test_connection_limit(&l);
        test_socket_taken(&l);
        test_bad_arguments(&l);
        /* SIGTERM: default action, like Firecracker; the socket file stays */
        CHECK(kill(l.pid, SIGTERM) == 0);
        CHECK_EQ_INT(live_wait_exit(&l, LIVE_WAIT_MS), 128 + SIGTERM);
        CHECK(access(l.api, F_OK) == 0);
        live_teardown(&l);
}

TEST_MAIN(run())
