/* vhost-vsock-run.c — runs one vhost-user vsock backend until SIGTERM/SIGINT, for the
 * real-QEMU harness (and for poking at by hand):
 *   vhost-vsock-run <vhost_socket> <uds_path> <guest_cid>
 * Prints "READY" once both sockets listen and the thread runs; exits 0 after a clean
 * vhost_vsock_free(). Holds no state of its own. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/log.h"
#include "vhost-vsock.h"

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: %s VHOST_SOCKET UDS_PATH GUEST_CID\n", argv[0]);
                return 2;
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the backend thread inherits it */
        log_set_prefix("vhost-vsock-run");
        if (getenv("EMBER_VHOST_DEBUG"))
                log_set_level(LOG_DEBUG);
        VhostVsockConfig c = {argv[1], argv[2], strtoull(argv[3], NULL, 10)};
        VhostVsock *v = NULL;
        Err e = {0};
        if (vhost_vsock_new(&c, &v, &e) < 0 || vhost_vsock_start(v, &e) < 0) {
                fprintf(stderr, "vhost-vsock-run: %s\n", e.msg);
                vhost_vsock_free(v);
                return 1;
        }
        printf("READY\n");
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        vhost_vsock_free(v);
        return 0;
}
