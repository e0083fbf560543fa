/* vsock-guest-init.c — /init of the vhost-qemu test initramfs (static musl): loads the
 * virtio-pci + vsock modules from /modules, then serves AF_VSOCK test services, one
 * forked child per connection. A test fixture, not a real init: it reaps through
 * SIGCHLD=SIG_IGN and never exits (the harness quits QEMU).
 *   1234 echo   | 1235 "DIAL <port>\n": connect to CID 2:<port>, echo on that stream,
 *               |      answer "OK\n" or "ERR <errno>\n" on the control stream
 *   1236 sink   (reads to EOF, answers "<bytes>\n") | 1237 source ("<bytes>\n" -> bytes) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sockaddr_vm {
        sa_family_t svm_family;
        unsigned short svm_reserved1;
        unsigned int svm_port;
        unsigned int svm_cid;
        unsigned char svm_zero[4];
};
#define VMADDR_CID_ANY 0xFFFFFFFFu
#define VMADDR_CID_HOST 2u
#define BUF (64 * 1024)

static const char *const modules[] = {
        "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
        "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport",
};

static void load_modules(void)
{
        for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
                char path[128];
                snprintf(path, sizeof(path), "/modules/%s.ko", modules[i]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        printf("init: %s: %s\n", path, strerror(errno));
                        continue;
                }
                if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                        printf("init: load %s: %s\n", modules[i], strerror(errno));
                close(fd);
        }
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static void echo(int fd)
{
        static char buf[BUF];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (write_all(fd, buf, (size_t)n) < 0)
                        return;
}

static int read_line(int fd, char *buf, size_t len)
{
        size_t i = 0;
        while (i + 1 < len && read(fd, buf + i, 1) == 1 && buf[i] != '\n')
                i++;
        buf[i] = 0;
        return (int)i;
}

static void dial(int ctl)
{
        char line[64];
        read_line(ctl, line, sizeof(line));
        unsigned port = 0;
        sscanf(line, "DIAL %u", &port);
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_port = port,
                                 .svm_cid = VMADDR_CID_HOST};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                snprintf(line, sizeof(line), "ERR %d\n", errno);
                write_all(ctl, line, strlen(line));
                return;
        }
        write_all(ctl, "OK\n", 3);
        echo(fd);
}

static void sink(int fd)
{
        static char buf[BUF];
        unsigned long long total = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                total += (unsigned long long)n;
        char line[32];
        snprintf(line, sizeof(line), "%llu\n", total);
        write_all(fd, line, strlen(line));
}

static void source(int fd)
{
        static char buf[BUF];
        char line[32];
        read_line(fd, line, sizeof(line));
        unsigned long long left = strtoull(line, NULL, 10);
        memset(buf, 'v', sizeof(buf));
        while (left > 0) {
                size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
                if (write_all(fd, buf, n) < 0)
                        return;
                left -= n;
        }
}

static const struct {
        unsigned port;
        void (*serve)(int fd);
} services[] = {{1234, echo}, {1235, dial}, {1236, sink}, {1237, source}};

static int listen_on(unsigned port)
{
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_port = port,
                                 .svm_cid = VMADDR_CID_ANY};
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 256) < 0) {
                printf("init: listen %u: %s\n", port, strerror(errno));
                return -1;
        }
        return fd;
}

static void serve_forever(unsigned idx, int lfd)
{
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                if (fork() == 0) {
                        services[idx].serve(fd);
                        _exit(0);
                }
                close(fd);
        }
}

int main(void)
{
        if (fcntl(1, F_GETFD) < 0) {
                int c = open("/dev/console", O_RDWR);
                dup2(c, 0), dup2(c, 1), dup2(c, 2);
        }
        setvbuf(stdout, NULL, _IONBF, 0);
        signal(SIGCHLD, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        mount("proc", "/proc", "proc", 0, NULL);
        load_modules();
        int fds[4];
        for (unsigned i = 0; i < 4; i++)
                fds[i] = listen_on(services[i].port);
        for (unsigned i = 1; i < 4; i++)
                if (fork() == 0)
                        serve_forever(i, fds[i]);
        printf("EMBER-VSOCK-READY\n");
        serve_forever(0, fds[0]);
}
