/* listen.h — listener addresses: "unix:/path", "127.0.0.1:8080", "[::1]:0", "host:port".
 * Parsing, the loopback test that decides whether a bearer token is needed, and opening
 * the listening socket (Unix sockets get mode 0660 before they accept anything). */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "shared/err.h"

typedef struct ListenAddr {
        bool is_unix;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        mode_t mode; /* unix: file mode before listen(); 0 = 0660 */
        gid_t gid;   /* unix: group before listen(); (gid_t)-1 = unchanged (listen_parse) */
        struct sockaddr_storage ss;
        socklen_t ss_len;
} ListenAddr;

#define LISTEN_ADDR_TEXT_MAX 160

int listen_parse(const char *text, ListenAddr *ret, Err *e);
/* Unix sockets count as local (their file mode is the access control). */
bool listen_is_local(const ListenAddr *a);
/* Opens, binds and listens. A Unix path that holds a live server is an error; a stale
 * socket is replaced; anything that is not a socket is never removed. ret_text gets the
 * bound address ("127.0.0.1:41234" when port 0 was asked). Unix: ret_dev, ret_ino
 * identify the socket file so that only our own is removed later. */
int listen_open(const ListenAddr *a, int backlog, int *ret_fd, char ret_text[LISTEN_ADDR_TEXT_MAX],
                dev_t *ret_dev, ino_t *ret_ino, Err *e);
/* A group name or a decimal gid -> gid; -ENOENT when there is no such group. */
int listen_group(const char *group, gid_t *ret);
/* Formats an AF_INET/AF_INET6 address as "1.2.3.4:80" or "[::1]:80". */
int listen_format(const struct sockaddr *sa, char buf[LISTEN_ADDR_TEXT_MAX]);
