/* fc-api.c — libcurl over the Firecracker API socket (see fc-api.h; FACTS §1.1-1.2).
 * Quirks handled: status line without a reason phrase, 204 without Content-Length, bodies
 * only by Content-Length (no chunked, no Expect), two error body shapes. No retries here:
 * a failed call is the caller's decision. Must not log or touch anything but the socket. */
#include "fc-api.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/util.h"

struct FcApi {
        pthread_mutex_t lock; /* Firecracker serves one request at a time anyway */
        CURL *curl;
        struct curl_slist *headers;
        char *sock_path;
        char errbuf[CURL_ERROR_SIZE];
        Buf resp;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
        Buf *b = userdata;
        /* beyond the cap Buf drops and counts; the caller refuses the answer */
        return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

int fc_api_new(const char *sock_path, FcApi **ret)
{
        pthread_once(&curl_once, curl_init_once);
        if (curl_init_rc != CURLE_OK)
                return -ENOMEM;
        FcApi *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        pthread_mutex_init(&a->lock, NULL);
        a->sock_path = strdup(sock_path);
        a->curl = curl_easy_init();
        /* "Expect:" with no value stops curl from sending Expect: 100-continue */
        const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                              "Expect:"};
        for (size_t i = 0; i < ELEMENTSOF(hdrs); i++) {
                struct curl_slist *l = curl_slist_append(a->headers, hdrs[i]);
                if (!l)
                        break;
                a->headers = l;
        }
        if (!a->sock_path || !a->curl || !a->headers) {
                fc_api_free(a);
                return -ENOMEM;
        }
        CURL *c = a->curl;
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, a->sock_path);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, a->headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->resp);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf);
        curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
        *ret = a;
        return 0;
}

void fc_api_free(FcApi *a)
{
        if (!a)
                return;
        if (a->curl)
                curl_easy_cleanup(a->curl);
        curl_slist_free_all(a->headers);
        buf_free(&a->resp);
        free(a->sock_path);
        pthread_mutex_destroy(&a->lock);
        free(a);
}

/* ---- error bodies ---- */

static void sanitize(const char *s, size_t n, char *out, size_t out_size)
{
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < out_size; i++) {
                unsigned char ch = (unsigned char)s[i];
                out[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
        }
        while (o > 0 && out[o - 1] == ' ')
                o--;
        out[o] = 0;
}

/* Finds `"key"\s*:\s*"` and returns the string up to the closing unescaped quote, tolerant
 * of raw control characters (micro-http puts a raw '\n' in its message). */
static bool scan_string_field(const char *body, size_t len, const char *key, const char **ret,
                              size_t *ret_len)
{
        size_t kl = strlen(key);
        const char *end = body + len;
        for (const char *p = body; p + kl + 2 <= end; p++) {
                if (p[0] != '"' || memcmp(p + 1, key, kl) != 0 || p[kl + 1] != '"')
                        continue;
                const char *q = p + kl + 2;
                while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                        q++;
                if (q >= end || *q++ != ':')
                        continue;
                while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                        q++;
                if (q >= end || *q++ != '"')
                        continue;
                const char *s = q;
                while (q < end && *q != '"')
                        q += (*q == '\\' && q + 1 < end) ? 2 : 1;
                *ret = s;
                *ret_len = (size_t)(MIN(q, end) - s);
                return true;
        }
        return false;
}

void fc_api_fault_text(const char *body, size_t len, char *out, size_t out_size)
{
        if (out_size == 0)
                return;
        if (!body || len == 0) {
                snprintf(out, out_size, "(empty body)");
                return;
        }
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *keys[] = {"fault_message", "error"};
        for (size_t i = 0; j && i < ELEMENTSOF(keys); i++) {
                json_t *v = json_object_get(j, keys[i]);
                if (json_is_string(v)) {
                        sanitize(json_string_value(v), json_string_length(v), out, out_size);
                        json_decref(j);
                        return;
                }
        }
        json_decref(j);
        const char *s;
        size_t n;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (scan_string_field(body, len, keys[i], &s, &n)) {
                        sanitize(s, n, out, out_size);
                        return;
                }
        sanitize(body, len, out, out_size);
}

/* ---- calls ---- */

static int transport_error(CURLcode rc, const char *method, const char *path, int timeout_ms,
                           const char *detail, Err *e)
{
        static const struct {
                CURLcode rc;
                int errnum;
                const char *what;
        } table[] = {
                {CURLE_OPERATION_TIMEDOUT, ETIMEDOUT, "no answer from the VMM in time"},
                {CURLE_COULDNT_CONNECT, ECONNREFUSED, "cannot connect to the API socket"},
                {CURLE_GOT_NOTHING, ECONNRESET, "the VMM closed the connection"},
                {CURLE_RECV_ERROR, ECONNRESET, "the VMM closed the connection"},
                {CURLE_SEND_ERROR, ECONNRESET, "the VMM closed the connection"},
                {CURLE_OUT_OF_MEMORY, ENOMEM, "out of memory"},
        };
        int errnum = EIO;
        const char *what = "API call failed";
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].rc == rc) {
                        errnum = table[i].errnum;
                        what = table[i].what;
                        break;
                }
        if (rc == CURLE_OPERATION_TIMEDOUT)
                return err_set(e, errnum, "%s %s: %s (%d ms)", method, path, what, timeout_ms);
        return err_set(e, errnum, "%s %s: %s: %s", method, path, what,
                       detail[0] ? detail : curl_easy_strerror(rc));
}

/* Runs one request already set up on a->curl; a->lock held. Returns the HTTP status. */
static int perform(FcApi *a, const char *method, const char *path, int timeout_ms, Err *e)
{
        char url[512];
        if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
                return err_set(e, ENAMETOOLONG, "%s %s: path too long", method, path);
        buf_free(&a->resp);
        buf_init(&a->resp, FC_API_MAX_RESPONSE);
        a->errbuf[0] = 0;
        curl_easy_setopt(a->curl, CURLOPT_URL, url);
        curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)MAX(timeout_ms, 1));
        curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MAX(timeout_ms, 1));
        CURLcode rc = curl_easy_perform(a->curl);
        if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
                return transport_error(rc, method, path, timeout_ms, a->errbuf, e);
        if (rc == CURLE_WRITE_ERROR || a->resp.dropped)
                return err_set(e, EMSGSIZE, "%s %s: answer larger than %u bytes", method, path,
                               FC_API_MAX_RESPONSE);
        long status = 0;
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
                return (int)status;
        char fault[FC_API_FAULT_MAX];
        fc_api_fault_text((const char *)a->resp.data, a->resp.len, fault, sizeof(fault));
        return err_set(e, EIO, "%s %s: %ld: %s", method, path, status, fault);
}

int fc_api_put(FcApi *a, const char *path, json_t *body, int timeout_ms, Err *e)
{
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return err_set(e, ENOMEM, "PUT %s: cannot encode the body", path);
        pthread_mutex_lock(&a->lock);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, "PUT");
        /* POSTFIELDS + POSTFIELDSIZE: curl sends Content-Length, never chunked */
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
        int r = perform(a, "PUT", path, timeout_ms, e);
        pthread_mutex_unlock(&a->lock);
        return r < 0 ? r : 0;
}

int fc_api_get(FcApi *a, const char *path, int timeout_ms, json_t **ret, Err *e)
{
        pthread_mutex_lock(&a->lock);
        curl_easy_setopt(a->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, NULL);
        int r = perform(a, "GET", path, timeout_ms, e);
        json_t *j = NULL;
        if (r >= 0) {
                j = json_loadb((const char *)a->resp.data, a->resp.len, 0, NULL);
                if (!j)
                        r = err_set(e, EBADMSG, "GET %s: answer is not JSON", path);
        }
        pthread_mutex_unlock(&a->lock);
        if (r < 0)
                return r;
        *ret = j;
        return 0;
}
