/* qemu-console.c — see qemu-console.h. The thread polls the two inputs and a stop eventfd;
 * it never blocks on anything else than writing the console file. */
#include "qemu-console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../shared/cleanup.h"
#include "../shared/log.h"
#include "../shared/util.h"

#define RESTART_MARK "[ember-vmm: console over the size limit; earlier output dropped]\n"

struct QemuConsole {
        int serial_fd, err_fd, console_fd, stop_fd;
        bool console_is_file;
        pthread_t thread;
        bool running;
        uint64_t since_restart;
        _Atomic uint64_t total;
        pthread_mutex_t lock; /* guards last */
        char line[QEMU_CONSOLE_LINE_MAX];
        size_t line_len;
        char last[QEMU_CONSOLE_LINE_MAX];
};

static void write_console(QemuConsole *c, const char *p, size_t n)
{
        if (c->console_is_file && c->since_restart + n > QEMU_CONSOLE_MAX) {
                if (ftruncate(c->console_fd, 0) == 0) {
                        ssize_t w = write(c->console_fd, RESTART_MARK, sizeof(RESTART_MARK) - 1);
                        c->since_restart = w > 0 ? (uint64_t)w : 0;
                }
        }
        while (n > 0) {
                ssize_t w = write(c->console_fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return; /* a console that cannot be written loses the bytes */
                p += w;
                n -= (size_t)w;
                c->since_restart += (uint64_t)w;
                atomic_fetch_add(&c->total, (uint64_t)w);
        }
}

static void flush_line(QemuConsole *c)
{
        if (!c->line_len)
                return;
        c->line[c->line_len] = 0;
        log_warn("qemu: %s", c->line);
        pthread_mutex_lock(&c->lock);
        memcpy(c->last, c->line, c->line_len + 1);
        pthread_mutex_unlock(&c->lock);
        c->line_len = 0;
}

static void take_stderr(QemuConsole *c, const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n' || c->line_len == sizeof(c->line) - 1) {
                        flush_line(c);
                        if (p[i] == '\n')
                                continue;
                }
                if (p[i] != '\r')
                        c->line[c->line_len++] = p[i];
        }
}

/* One read from an input; false once it is finished (EOF or error). */
static bool pump(QemuConsole *c, int fd)
{
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0)
                return false;
        if (fd == c->serial_fd)
                write_console(c, buf, (size_t)n);
        else
                take_stderr(c, buf, (size_t)n);
        return true;
}

static void *console_main(void *arg)
{
        QemuConsole *c = arg;
        struct pollfd p[3] = {
                {.fd = c->serial_fd, .events = POLLIN},
                {.fd = c->err_fd, .events = POLLIN},
                {.fd = c->stop_fd, .events = POLLIN},
        };
        while (p[0].fd >= 0 || p[1].fd >= 0) {
                if (poll(p, 3, -1) < 0 && errno != EINTR)
                        break;
                if (p[2].revents)
                        break;
                for (int i = 0; i < 2; i++)
                        if (p[i].fd >= 0 && p[i].revents && !pump(c, p[i].fd))
                                p[i].fd = -1; /* poll ignores negative fds */
        }
        flush_line(c);
        return NULL;
}

static int console_setup(QemuConsole *c, int console_fd, Err *e)
{
        struct stat st;
        c->console_fd = fcntl(console_fd, F_DUPFD_CLOEXEC, 3);
        c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->console_fd < 0 || c->stop_fd < 0)
                return err_set(e, errno, "console: %s", strerror(errno));
        c->console_is_file = fstat(c->console_fd, &st) == 0 && S_ISREG(st.st_mode);
        if (c->console_is_file) /* what is already there counts */
                c->since_restart = (uint64_t)st.st_size;
        int r = -pthread_create(&c->thread, NULL, console_main, c);
        if (r < 0)
                return err_set(e, -r, "console thread: %s", strerror(-r));
        c->running = true;
        return 0;
}

int qemu_console_start(int serial_fd, int err_fd, int console_fd, QemuConsole **ret, Err *e)
{
        QemuConsole *c = calloc(1, sizeof(*c));
        if (!c) {
                close(serial_fd);
                close(err_fd);
                return err_set(e, ENOMEM, "out of memory");
        }
        pthread_mutex_init(&c->lock, NULL);
        c->serial_fd = serial_fd;
        c->err_fd = err_fd;
        c->console_fd = c->stop_fd = -1;
        int r = console_setup(c, console_fd, e);
        if (r < 0) {
                qemu_console_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static void console_stop(QemuConsole *c)
{
        if (!c->running)
                return;
        uint64_t one = 1;
        ssize_t _unused_ w = write(c->stop_fd, &one, sizeof(one));
        pthread_join(c->thread, NULL);
        c->running = false;
}

void qemu_console_finish(QemuConsole *c, int64_t deadline_ms)
{
        if (!c || !c->running)
                return;
        struct timespec ts;
        int64_t left = deadline_left(deadline_ms);
        if (left < 0) { /* no deadline */
                pthread_join(c->thread, NULL);
                c->running = false;
                return;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(c->thread, NULL, &ts) == 0)
                c->running = false;
        else
                console_stop(c);
}

void qemu_console_note(QemuConsole *c, const char *line)
{
        if (!c || c->running || c->console_fd < 0)
                return;
        char buf[QEMU_CONSOLE_LINE_MAX + 64];
        int n = snprintf(buf, sizeof(buf), "\nember-vmm: %s\n", line);
        write_console(c, buf, MIN((size_t)n, sizeof(buf) - 1));
}

void qemu_console_last_error(QemuConsole *c, char *out, size_t size)
{
        if (!size)
                return;
        out[0] = 0;
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        snprintf(out, size, "%s", c->last);
        pthread_mutex_unlock(&c->lock);
}

uint64_t qemu_console_bytes(QemuConsole *c) { return c ? atomic_load(&c->total) : 0; }

void qemu_console_free(QemuConsole *c)
{
        if (!c)
                return;
        console_stop(c);
        closep(&c->serial_fd);
        closep(&c->err_fd);
        closep(&c->console_fd);
        closep(&c->stop_fd);
        pthread_mutex_destroy(&c->lock);
        free(c);
}
