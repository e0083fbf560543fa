/* util.c — see util.h. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t now_ms(void) { return now_us() / 1000; }

int deadline_left(int64_t deadline_ms)
{
        if (deadline_ms < 0)
                return -1;
        int64_t left = deadline_ms - now_ms();
        return left < 0 ? 0 : (int)MIN(left, (int64_t)1 << 30);
}

int fd_nonblock(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
        if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
                return -errno;
        return 0;
}

static int wait_fd(int fd, short ev, int64_t deadline_ms)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = ev};
                int r = poll(&p, 1, deadline_left(deadline_ms));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r > 0;
        }
}

int fd_wait_readable(int fd, int64_t deadline_ms) { return wait_fd(fd, POLLIN, deadline_ms); }

int fd_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
        const uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLOUT, deadline_ms);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                return -ETIMEDOUT;
                        continue;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fd_read_exact(int fd, void *buf, size_t len, int64_t deadline_ms)
{
        uint8_t *p = buf;
        while (len > 0) {
                int r = wait_fd(fd, POLLIN, deadline_ms);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
                ssize_t n = read(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int fill_sun(struct sockaddr_un *sa, const char *path)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

int unix_connect(const char *path, int *ret_fd)
{
        struct sockaddr_un sa;
        int r = fill_sun(&sa, path);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int unix_listen(const char *path, int backlog, int *ret_fd)
{
        struct sockaddr_un sa;
        int r = fill_sun(&sa, path);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

bool instance_id_valid(const char *id)
{
        size_t n = strlen(id);
        if (n < 1 || n > INSTANCE_ID_MAX)
                return false;
        for (const char *p = id; *p; p++)
                if (!(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z')))
                        return false;
        return true;
}

int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int rm_one(const char *path, const struct stat *st _unused_, int type,
                  struct FTW *ftw _unused_)
{
        int r = (type == FTW_DP) ? rmdir(path) : unlink(path);
        return (r < 0 && errno != ENOENT) ? -1 : 0;
}

int rm_rf(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
                return -(errno ? errno : EIO);
        return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        Buf b;
        buf_init(&b, max);
        char chunk[8192];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (buf_append(&b, chunk, (size_t)n) < 0) {
                        buf_free(&b);
                        return -ENOMEM;
                }
                if (b.dropped) {
                        buf_free(&b);
                        return -EFBIG;
                }
        }
        if (buf_append(&b, "", 1) < 0 || b.dropped) {
                buf_free(&b);
                return b.dropped ? -EFBIG : -ENOMEM;
        }
        if (ret_len)
                *ret_len = b.len - 1;
        *ret = (char *)b.data;
        return 0;
}

int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        return fd_write_all(fd, data, len, -1);
}

void buf_init(Buf *b, size_t cap) { *b = (Buf){.cap = cap}; }

int buf_append(Buf *b, const void *p, size_t n)
{
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        size_t take = MIN(n, room);
        b->dropped += n - take;
        if (take == 0)
                return 0;
        if (b->len + take > b->alloc) {
                size_t na = MAX(b->alloc * 2, (size_t)4096);
                while (na < b->len + take)
                        na *= 2;
                na = MIN(na, MAX(b->cap, b->len + take));
                uint8_t *nd = realloc(b->data, na);
                if (!nd)
                        return -ENOMEM;
                b->data = nd;
                b->alloc = na;
        }
        memcpy(b->data + b->len, p, take);
        b->len += take;
        return 0;
}

void buf_free(Buf *b)
{
        free(b->data);
        *b = (Buf){0};
}
