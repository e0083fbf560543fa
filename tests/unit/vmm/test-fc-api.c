/* test-fc-api.c — fc-api against a fake Firecracker API server on a Unix socket: request
 * shape (PUT, Content-Length, no chunking, no Expect, one keep-alive connection), status
 * lines without a reason phrase, 204 without a body, and error propagation for both error
 * body shapes, a raw body, a closed connection and a silent server. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../test.h"
#include "shared/util.h"
#include "vmm/fc-api.h"

#define SILENT "" /* read the request, never answer */
#define CLOSE NULL /* close the connection instead of answering */

/* An answer: head (status line + headers, without Content-Length) and an optional body. */
typedef struct Answer {
        const char *head, *body;
} Answer;

typedef struct Server {
        int listen_fd;
        const Answer *script; /* one answer per request */
        size_t n_script;
        pthread_mutex_t lock; /* guards what follows: the test reads it while we serve */
        int accepts;
        char last_request[8192];
        char requests[16][256]; /* request lines */
        size_t n_requests;
} Server;

/* Reads one HTTP request (headers + Content-Length body); 0 on EOF. */
static int read_request(int fd, char *buf, size_t size)
{
        size_t n = 0;
        char *end = NULL;
        while (!end) {
                if (n + 1 >= size)
                        return -1;
                ssize_t k = read(fd, buf + n, size - n - 1);
                if (k <= 0)
                        return 0;
                n += (size_t)k;
                buf[n] = 0;
                end = strstr(buf, "\r\n\r\n");
        }
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
        size_t want = (size_t)(end + 4 - buf) + body;
        while (n < want && n + 1 < size) {
                ssize_t k = read(fd, buf + n, want - n);
                if (k <= 0)
                        return 0;
                n += (size_t)k;
        }
        buf[n] = 0;
        return 1;
}

static void *serve(void *arg)
{
        Server *s = arg;
        size_t next = 0;
        while (next < s->n_script) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        break;
                pthread_mutex_lock(&s->lock);
                s->accepts++;
                pthread_mutex_unlock(&s->lock);
                char req[8192];
                while (next < s->n_script && read_request(fd, req, sizeof(req)) > 0) {
                        pthread_mutex_lock(&s->lock);
                        memcpy(s->last_request, req, sizeof(req));
                        snprintf(s->requests[s->n_requests++ % 16], 256, "%.*s",
                                 (int)strcspn(req, "\r"), req);
                        pthread_mutex_unlock(&s->lock);
                        const Answer *a = &s->script[next++];
                        if (!a->head)
                                break;
                        if (!a->head[0])
                                continue;
                        char msg[1024];
                        int n = a->body ? snprintf(msg, sizeof(msg), "%sContent-Length: %zu\r\n\r\n%s",
                                                   a->head, strlen(a->body), a->body)
                                        : snprintf(msg, sizeof(msg), "%s\r\n", a->head);
                        fd_write_all(fd, msg, (size_t)n, -1);
                }
                close(fd);
        }
        return NULL;
}

static const Answer script[] = {
        /* 1 PUT /logger */
        {"HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n", NULL},
        /* 2 PUT /boot-source: fault_message */
        {"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
         "Content-Type: application/json\r\n",
         "{\"fault_message\":\"The kernel file cannot be opened: No such file...\"}"},
        /* 3 PUT /machine-config: micro-http shape, raw newline inside the string */
        {"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
         "Content-Type: application/json\r\n",
         "{ \"error\": \"Invalid Content-Length\nAll previous unanswered requests will be dropped.\" }"},
        /* 4 PUT /vsock: raw text */
        {"HTTP/1.1 500 Internal Server Error\r\n", "oops\n"},
        /* 5 GET / */
        {"HTTP/1.1 200 \r\nContent-Type: application/json\r\n",
         "{\"id\":\"sb-1\",\"state\":\"Not started\"}"},
        /* 6 PUT /entropy: connection closed without an answer; curl retries a request
         * that died on a reused connection once, on a fresh one, which is closed too */
        {CLOSE, NULL},
        {CLOSE, NULL},
        /* 7 PUT /entropy again, on a new connection */
        {"HTTP/1.1 204 \r\n", NULL},
        /* 8 PUT /actions: the server never answers */
        {SILENT, NULL},
        /* 9 PUT /actions: a new connection after the client gave up */
        {"HTTP/1.1 204 \r\n", NULL},
};

static void test_against_server(void)
{
        char dir[] = "/tmp/ember-test-fcapi-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char sock[128];
        snprintf(sock, sizeof(sock), "%s/api.sock", dir);
        Server srv = {.script = script, .n_script = ELEMENTSOF(script),
                      .lock = PTHREAD_MUTEX_INITIALIZER};
        CHECK_EQ_INT(unix_listen(sock, 4, &srv.listen_fd), 0);
        pthread_t t;
        pthread_create(&t, NULL, serve, &srv);

        FcApi *api = NULL;
        CHECK_EQ_INT(fc_api_new(sock, &api), 0);
        Err e = {0};
        json_t *b = json_pack("{s:s, s:s}", "log_path", "/x/vmm.log", "level", "Info");
        CHECK_EQ_INT(fc_api_put(api, "/logger", b, 5000, &e), 0);
        json_decref(b);
        pthread_mutex_lock(&srv.lock);
        CHECK_STR(srv.requests[0], "PUT /logger HTTP/1.1");
        CHECK(strcasestr(srv.last_request, "\r\nContent-Length: 40\r\n") != NULL);
        CHECK(strcasestr(srv.last_request, "Transfer-Encoding") == NULL);
        CHECK(strcasestr(srv.last_request, "Expect:") == NULL);
        CHECK(strcasestr(srv.last_request, "Content-Type: application/json") != NULL);
        CHECK(strstr(srv.last_request, "\r\n\r\n{\"log_path\":\"/x/vmm.log\",\"level\":\"Info\"}") != NULL);
        pthread_mutex_unlock(&srv.lock);

        b = json_pack("{s:s}", "kernel_image_path", "/nope");
        CHECK_EQ_INT(fc_api_put(api, "/boot-source", b, 5000, &e), -EIO);
        CHECK_STR(e.msg, "PUT /boot-source: 400: The kernel file cannot be opened: No such file...");
        CHECK_EQ_INT(fc_api_put(api, "/machine-config", b, 5000, &e), -EIO);
        CHECK_STR(e.msg, "PUT /machine-config: 400: Invalid Content-Length All previous "
                         "unanswered requests will be dropped.");
        CHECK_EQ_INT(fc_api_put(api, "/vsock", b, 5000, &e), -EIO);
        CHECK_STR(e.msg, "PUT /vsock: 500: oops");

        json_t *got = NULL;
        CHECK_EQ_INT(fc_api_get(api, "/", 5000, &got, &e), 0);
        CHECK_STR(json_string_value(json_object_get(got, "state")), "Not started");
        json_decref(got);
        pthread_mutex_lock(&srv.lock);
        CHECK_EQ_INT(srv.accepts, 1); /* keep-alive: one connection so far */
        CHECK_STR(srv.requests[4], "GET / HTTP/1.1");
        pthread_mutex_unlock(&srv.lock);

        int r = fc_api_put(api, "/entropy", b, 5000, &e);
        CHECK(r == -ECONNRESET || r == -EIO);
        CHECK(strncmp(e.msg, "PUT /entropy: the VMM closed the connection", 42) == 0);
        CHECK_EQ_INT(fc_api_put(api, "/entropy", b, 5000, &e), 0);
        CHECK_EQ_INT(fc_api_put(api, "/actions", b, 200, &e), -ETIMEDOUT);
        CHECK(strstr(e.msg, "PUT /actions: no answer") != NULL);
        CHECK_EQ_INT(fc_api_put(api, "/actions", b, 5000, &e), 0);
        json_decref(b);
        fc_api_free(api);

        pthread_join(t, NULL);
        close(srv.listen_fd);
        unlink(sock);
        rmdir(dir);

}

static void test_fault_text(void)
{
        /* fault text extraction on its own */
        char out[64];
        const char *tab = "{\"fault_message\":\"a\\tb\"}";
        fc_api_fault_text(tab, strlen(tab), out, sizeof(out));
        CHECK_STR(out, "a b");
        fc_api_fault_text("", 0, out, sizeof(out));
        CHECK_STR(out, "(empty body)");
        char big[4096];
        memset(big, 'x', sizeof(big));
        fc_api_fault_text(big, sizeof(big), out, sizeof(out));
        CHECK_EQ_INT(strlen(out), sizeof(out) - 1);
        fc_api_fault_text("\x01\x02garbage\x7f", 10, out, sizeof(out));
        CHECK_STR(out, "  garbage");
}

TEST_MAIN({
        test_against_server();
        test_fault_text();
})
