/* test-api-http.c — the HTTP transport over real sockets (Unix and 127.0.0.1:0) with the
 * fake manager: status/header/body of real responses, the body limit by Content-Length
 * and by chunked streaming, bearer tokens, socket file mode and removal, refusing to
 * replace a live socket or a non-socket, and a blocked exec not holding up other requests.
 * Leaves nothing behind: sockets are removed, threads joined. */
#include <curl/curl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "../test.h"
#include "api/api.h"
#include "fake-manager.h"
#include "shared/util.h"

static Pack packs[] = {{.name = "python", .description = "Python 3", .vcpus = 1, .memory_mib = 256}};
static Settings settings = {.packs = packs, .n_packs = 1, .max_sandboxes = 8, .max_vcpus = 4,
                            .max_memory_mib = 2048};

typedef struct Reply {
        long status;
        Buf body, headers;
} Reply;

static size_t on_data(char *p, size_t size, size_t n, void *b)
{
        buf_append(b, p, size * n);
        return size * n;
}

typedef struct Upload {
        size_t left;
} Upload;

static size_t on_read(char *p, size_t size, size_t n, void *u)
{
        Upload *up = u;
        size_t k = MIN(size * n, up->left);
        memset(p, ' ', k);
        up->left -= k;
        return k;
}

/* One request. target is "unix:/path" or "127.0.0.1:port". chunked > 0 streams that many
 * bytes with Transfer-Encoding: chunked instead of sending body. */
static Reply http(const char *target, const char *method, const char *path, const char *body,
                  size_t chunked, const char *header)
{
        Reply r = {0};
        buf_init(&r.body, 1 << 20);
        buf_init(&r.headers, 1 << 16);
        CURL *c = curl_easy_init();
        char url[512];
        struct curl_slist *hs = NULL;
        Upload up = {.left = chunked};
        if (strncmp(target, "unix:", 5) == 0) {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, target + 5);
                snprintf(url, sizeof(url), "http://localhost%s", path);
        } else {
                snprintf(url, sizeof(url), "http://%s%s", target, path);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        if (chunked) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(c, CURLOPT_READDATA, &up);
                hs = curl_slist_append(hs, "Transfer-Encoding: chunked");
        }
        if (header)
                hs = curl_slist_append(hs, header);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        buf_append(&r.body, "", 1);
        buf_append(&r.headers, "", 1);
        curl_slist_free_all(hs);
        curl_easy_cleanup(c);
        return r;
}

static void reply_free(Reply *r)
{
        buf_free(&r->body);
        buf_free(&r->headers);
}

static bool has(const Buf *b, const char *s) { return b->data && strcasestr((char *)b->data, s); }

#define CHECK_HAS(b, s)                                                                            \
        do {                                                                                       \
                CHECK(has(b, s));                                                                  \
                if (!has(b, s))                                                                    \
                        fprintf(stderr, "  missing \"%s\" in: %s\n", s,                            \
                                (b)->data ? (char *)(b)->data : "");                               \
        } while (0)

static void test_basics(const char *unix_target, const char *tcp)
{
        Reply r = http(unix_target, "GET", "/healthz", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 200);
        CHECK_HAS(&r.headers, "Content-Type: application/json");
        CHECK_HAS(&r.body, "\"status\":\"ok\"");
        reply_free(&r);

        r = http(tcp, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", 0, NULL);
        CHECK_EQ_INT(r.status, 201);
        CHECK_HAS(&r.headers, "Location: /sandboxes/sb-");
        reply_free(&r);

        r = http(tcp, "PUT", "/sandboxes", "{}", 0, NULL);
        CHECK_EQ_INT(r.status, 405);
        CHECK_HAS(&r.headers, "Allow: POST, GET");
        CHECK_HAS(&r.body, "method_not_allowed");
        reply_free(&r);

        r = http(tcp, "GET", "/nowhere?x=1", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 404);
        CHECK_HAS(&r.body, "\"code\":\"not_found\"");
        reply_free(&r);

        r = http(tcp, "DELETE", "/sandboxes/none", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 404);
        CHECK_HAS(&r.body, "sandbox_not_found");
        reply_free(&r);

        r = http(unix_target, "GET", "/metrics", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 200);
        CHECK_HAS(&r.body, "ember_http_requests_total{code=\"201\"} 1");
        CHECK_HAS(&r.body, "ember_http_requests_total{code=\"404\"} 2");
        CHECK_HAS(&r.headers, "text/plain; version=0.0.4");
        reply_free(&r);
}

static void test_body_limit(const char *tcp)
{
        char *big = malloc(5001);
        memset(big, ' ', 5000);
        big[5000] = 0;
        big[0] = '{';
        big[4999] = '}';
        Reply r = http(tcp, "POST", "/sandboxes", big, 0, NULL); /* drained, then 413 */
        CHECK_EQ_INT(r.status, 413);
        CHECK_HAS(&r.body, "body_too_large");
        reply_free(&r);
        r = http(tcp, "POST", "/sandboxes", big, 0, "Expect: 100-continue"); /* refused early */
        CHECK_EQ_INT(r.status, 413);
        CHECK_HAS(&r.body, "body_too_large");
        reply_free(&r);
        free(big);

        r = http(tcp, "POST", "/sandboxes", NULL, 6000, NULL); /* chunked, no Content-Length */
        CHECK_EQ_INT(r.status, 413);
        CHECK_HAS(&r.body, "body_too_large");
        reply_free(&r);

        r = http(tcp, "POST", "/sandboxes", NULL, 100000, NULL); /* far past: cut off */
        CHECK(r.status == 0 || r.status == 413);
        reply_free(&r);

        r = http(tcp, "POST", "/sandboxes", NULL, 3000, NULL); /* chunked, under the limit */
        CHECK_EQ_INT(r.status, 400); /* all spaces: not JSON */
        CHECK_HAS(&r.body, "invalid_json");
        reply_free(&r);
}

static void test_token(Api *api)
{
        Err e = {0};
        CHECK_EQ_INT(api_listen_with_token(api, "127.0.0.1:0", &e), 0);
        const char *t = api_listener_address(api, 2);
        CHECK(t != NULL);
        if (!t)
                return;
        Reply r = http(t, "GET", "/healthz", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 401);
        CHECK_HAS(&r.body, "\"code\":\"unauthorized\"");
        CHECK_HAS(&r.headers, "WWW-Authenticate: Bearer");
        reply_free(&r);
        static const char *wrong[] = {"Authorization: Bearer s3cre", "Authorization: Bearer s3cret!",
                                      "Authorization: Basic s3cret", "Authorization: Bearer "};
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                r = http(t, "GET", "/healthz", NULL, 0, wrong[i]);
                CHECK_EQ_INT(r.status, 401);
                reply_free(&r);
        }
        r = http(t, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", 0, NULL);
        CHECK_EQ_INT(r.status, 401); /* a body does not change that */
        reply_free(&r);
        r = http(t, "POST", "/sandboxes", NULL, 3000, NULL);
        CHECK_EQ_INT(r.status, 401);
        reply_free(&r);
        r = http(t, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", 0,
                 "Authorization: Bearer s3cret");
        CHECK_EQ_INT(r.status, 201);
        reply_free(&r);
        r = http(t, "GET", "/healthz", NULL, 0, "Authorization: bearer s3cret");
        CHECK_EQ_INT(r.status, 200);
        reply_free(&r);
}

typedef struct ExecThread {
        const char *target;
        char path[128];
        Reply r;
} ExecThread;

static void *exec_thread(void *p)
{
        ExecThread *t = p;
        t->r = http(t->target, "POST", t->path, "{\"code\":\"print(1)\"}", 0, NULL);
        return NULL;
}

/* An exec that blocks in the manager must not stop list/create/health on other
 * connections; no timing involved: the exec only returns once the others are done. */
static void test_slow_exec(const char *tcp)
{
        Reply r = http(tcp, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", 0, NULL);
        CHECK_EQ_INT(r.status, 201);
        json_t *j = json_loads(r.body.data ? (char *)r.body.data : "", 0, NULL);
        ExecThread t = {.target = tcp};
        snprintf(t.path, sizeof(t.path), "/sandboxes/%s/exec",
                 json_string_value(json_object_get(j, "id")));
        json_decref(j);
        reply_free(&r);

        fake_exec = (FakeExec){.out = "1\n", .out_len = 2, .block = true};
        pthread_t th;
        CHECK_EQ_INT(pthread_create(&th, NULL, exec_thread, &t), 0);
        fake_exec_wait_blocked(1);
        r = http(tcp, "GET", "/sandboxes", NULL, 0, NULL);
        CHECK_EQ_INT(r.status, 200);
        reply_free(&r);
        r = http(tcp, "POST", "/sandboxes", "{\"language_pack\":\"python\"}", 0, NULL);
        CHECK_EQ_INT(r.status, 201);
        reply_free(&r);
        fake_exec_release();
        pthread_join(th, NULL);
        CHECK_EQ_INT(t.r.status, 200);
        CHECK_HAS(&t.r.body, "\"stdout\":\"1\\n\"");
        reply_free(&t.r);
        fake_exec = (FakeExec){0};
}

static void test_socket_files(Manager *m, const char *sock)
{
        struct stat st;
        CHECK_EQ_INT(stat(sock, &st), 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK_EQ_INT(st.st_mode & 0777, 0660);

        Api *other = NULL;
        Err e = {0};
        char addr[200];
        snprintf(addr, sizeof(addr), "unix:%s", sock);
        CHECK_EQ_INT(api_new(m, &settings, NULL, &other, &e), 0);
        CHECK_EQ_INT(api_listen(other, addr, &e), -EADDRINUSE); /* live socket kept */
        CHECK_EQ_INT(stat(sock, &st), 0);

        char file[128];
        snprintf(file, sizeof(file), "%s.file", sock);
        CHECK_EQ_INT(write_file(file, "x", 1, 0600), 0);
        snprintf(addr, sizeof(addr), "unix:%s", file);
        CHECK_EQ_INT(api_listen(other, addr, &e), -EEXIST); /* never removes a non-socket */
        CHECK_EQ_INT(stat(file, &st), 0);
        unlink(file);

        CHECK_EQ_INT(api_listen(other, "0.0.0.0:0", &e), -EACCES); /* beyond loopback: token */
        CHECK(strstr(e.msg, "--token-file") != NULL);
        CHECK(api_listen(other, "256.1.1.1:80", &e) < 0);
        CHECK(api_listen(other, "::1:80", &e) < 0);
        CHECK(api_listen(other, "127.0.0.1:99999", &e) < 0);
        api_free(other);
}

static void run(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        char sock[108];
        snprintf(sock, sizeof(sock), "/tmp/ember-api-test-%d.sock", (int)getpid());
        char unix_target[128];
        snprintf(unix_target, sizeof(unix_target), "unix:%s", sock);

        Manager *m = NULL;
        Api *api = NULL;
        Err e = {0};
        ApiOptions o = {.token = "s3cret", .max_body_bytes = 4096};
        CHECK_EQ_INT(manager_new(&settings, &m, &e), 0);
        CHECK_EQ_INT(api_new(m, &settings, &o, &api, &e), 0);
        CHECK_EQ_INT(api_listen(api, unix_target, &e), 0);
        CHECK_EQ_INT(api_listen(api, "127.0.0.1:0", &e), 0);
        const char *tcp = api_listener_address(api, 1);
        CHECK(tcp && strncmp(tcp, "127.0.0.1:", 10) == 0 && strcmp(tcp, "127.0.0.1:0") != 0);
        CHECK_STR(api_listener_address(api, 0), unix_target);
        if (tcp) {
                test_basics(unix_target, tcp);
                test_body_limit(tcp);
                test_token(api);
                test_slow_exec(tcp);
                test_socket_files(m, sock);
        }
        api_quiesce(api);
        struct stat st;
        CHECK(stat(sock, &st) < 0 && errno == ENOENT); /* gone as soon as we stop accepting */
        api_free(api);
        manager_free(m);
        curl_global_cleanup();
}

TEST_MAIN(run())
