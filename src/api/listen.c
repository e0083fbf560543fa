/* listen.c — see listen.h. Must never unlink a path that is not a socket, nor a socket
 * another server still answers on; every fd is CLOEXEC. */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

static int parse_unix(const char *path, ListenAddr *a, Err *e)
{
        if (!*path)
                return err_set(e, EINVAL, "unix: needs a path");
        if (strlen(path) >= sizeof(a->path))
                return err_set(e, ENAMETOOLONG, "unix socket path too long (max %zu): %s",
                               sizeof(a->path) - 1, path);
        a->is_unix = true;
        strcpy(a->path, path);
        return 0;
}

/* Splits "host:port" / "[v6]:port" into its parts. */
static int split_host_port(const char *text, char *host, size_t host_size, const char **ret_port)
{
        const char *colon;
        size_t hl;
        if (text[0] == '[') {
                const char *close = strchr(text, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                hl = (size_t)(close - text - 1);
                text++;
                colon = close + 1;
        } else {
                colon = strrchr(text, ':');
                if (!colon || memchr(text, ':', (size_t)(colon - text)))
                        return -EINVAL; /* bare IPv6 needs brackets */
                hl = (size_t)(colon - text);
        }
        if (hl == 0 || hl >= host_size)
                return -EINVAL;
        memcpy(host, text, hl);
        host[hl] = 0;
        *ret_port = colon + 1;
        return 0;
}

static int parse_tcp(const char *text, ListenAddr *a, Err *e)
{
        char host[256];
        const char *port;
        if (split_host_port(text, host, sizeof(host), &port) < 0)
                return err_set(e, EINVAL,
                               "bad listen address \"%s\": want unix:/path, HOST:PORT or "
                               "[V6]:PORT",
                               text);
        char *end;
        errno = 0;
        unsigned long p = strtoul(port, &end, 10);
        if (!*port || *end || errno || p > 65535)
                return err_set(e, EINVAL, "bad port in listen address \"%s\"", text);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int r = getaddrinfo(host, port, &hints, &res);
        if (r != 0)
                return err_set(e, EINVAL, "cannot resolve \"%s\": %s", host, gai_strerror(r));
        memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
        a->ss_len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
}

int listen_parse(const char *text, ListenAddr *ret, Err *e)
{
        *ret = (ListenAddr){.gid = (gid_t)-1};
        if (strncmp(text, "unix:", 5) == 0)
                return parse_unix(text + 5, ret, e);
        return parse_tcp(text, ret, e);
}

bool listen_is_local(const ListenAddr *a)
{
        if (a->is_unix)
                return true;
        if (a->ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const void *)&a->ss;
                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        const struct sockaddr_in6 *in6 = (const void *)&a->ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
}

int listen_format(const struct sockaddr *sa, char buf[LISTEN_ADDR_TEXT_MAX])
{
        char host[INET6_ADDRSTRLEN];
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const void *)sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                snprintf(buf, LISTEN_ADDR_TEXT_MAX, "%s:%u", host, ntohs(in->sin_port));
                return 0;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const void *)sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                snprintf(buf, LISTEN_ADDR_TEXT_MAX, "[%s]:%u", host, ntohs(in6->sin6_port));
                return 0;
        }
        return -EAFNOSUPPORT;
}

int listen_group(const char *group, gid_t *ret)
{
        char *end;
        errno = 0;
        unsigned long g = strtoul(group, &end, 10);
        if (*group && !*end && !errno && g < (gid_t)-1 && group[0] != '-') {
                *ret = (gid_t)g;
                return 0;
        }
        struct group gr, *res = NULL;
        char buf[4096];
        int r = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
        if (r != 0)
                return -r;
        if (!res)
                return -ENOENT;
        *ret = gr.gr_gid;
        return 0;
}

/* A socket file may be replaced only when nothing answers on it any more. */
static int unix_clear_stale(const char *path, Err *e)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : err_set(e, errno, "%s: %m", path);
        if (!S_ISSOCK(st.st_mode))
                return err_set(e, EEXIST, "%s exists and is not a socket", path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return err_set(e, EADDRINUSE, "%s: another server is listening there", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return err_set(e, errno, "removing stale socket %s: %m", path);
        return 0;
}

static int open_unix(const ListenAddr *a, int backlog, int *ret_fd, dev_t *ret_dev,
                     ino_t *ret_ino, Err *e)
{
        int r = unix_clear_stale(a->path, e);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_set(e, errno, "socket: %m");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, a->path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return err_set(e, errno, "bind %s: %m", a->path);
        struct stat st;
        /* no client can connect before listen(), so mode and group are set before anyone can */
        if (chmod(a->path, a->mode ? a->mode : 0660) < 0 ||
            (a->gid != (gid_t)-1 && chown(a->path, (uid_t)-1, a->gid) < 0) ||
            lstat(a->path, &st) < 0 || listen(fd, backlog) < 0) {
                r = err_set(e, errno, "%s: %m", a->path);
                unlink(a->path);
                return r;
        }
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int open_tcp(const ListenAddr *a, int backlog, int *ret_fd, char text[LISTEN_ADDR_TEXT_MAX],
                    Err *e)
{
        _cleanup_close_ int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_set(e, errno, "socket: %m");
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        listen_format((const struct sockaddr *)&a->ss, text);
        if (bind(fd, (const struct sockaddr *)&a->ss, a->ss_len) < 0)
                return err_set(e, errno, "bind %s: %m", text);
        if (listen(fd, backlog) < 0)
                return err_set(e, errno, "listen %s: %m", text);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
                listen_format((struct sockaddr *)&ss, text);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int listen_open(const ListenAddr *a, int backlog, int *ret_fd, char ret_text[LISTEN_ADDR_TEXT_MAX],
                dev_t *ret_dev, ino_t *ret_ino, Err *e)
{
        *ret_dev = 0;
        *ret_ino = 0;
        if (!a->is_unix)
                return open_tcp(a, backlog, ret_fd, ret_text, e);
        snprintf(ret_text, LISTEN_ADDR_TEXT_MAX, "unix:%s", a->path);
        return open_unix(a, backlog, ret_fd, ret_dev, ret_ino, e);
}
