/* main.c — ember-jailer: Firecracker's jailer command line for ember-vmm (or any VMM).
 * Closes inherited fds, clears the environment, then runs the jail steps (jail.c) and
 * execs the VMM. Exit 1 with "ember-jailer: <step>: <reason>" on stderr when a step fails.
 * Must not clean up anything it made: the caller removes the chroot and cgroup dirs. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "args.h"
#include "jail.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif

int main(int argc, char **argv)
{
        JailerArgs a;
        Jail j = {.null_fd = -1};
        Err e = {0};
        /* you cannot pass fds through the jailer (FACTS §5) */
        (void)close_range(3, ~0u, 0);
        if (jailer_args_parse(argc, argv, &a, &e) < 0) {
                fprintf(stderr, "ember-jailer: Arguments parsing error: %s\n\n"
                        "For more information try --help.\n", e.msg);
                return JAILER_EXIT_ERROR;
        }
        if (a.help) {
                jailer_usage();
                return 0;
        }
        if (a.version) {
                printf("ember-jailer %s (Firecracker jailer v1.16.1 command line)\n", EMBER_VERSION);
                return 0;
        }
        clearenv();
        int r = jail_init(&j, &a, &e);
        if (r >= 0)
                r = jail_run(&j, &e);
        if (r < 0)
                fprintf(stderr, "ember-jailer: %s\n", e.msg);
        jail_free(&j);
        fflush(NULL);
        /* inside the jail: no atexit work (a leak checker there has no /proc to read) */
        _exit(r < 0 ? JAILER_EXIT_ERROR : 0);
}
