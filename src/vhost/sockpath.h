/* sockpath.h — bind a listening Unix socket at a path without stealing a live one: a
 * stale socket file is replaced, a socket someone listens on is EADDRINUSE, any other
 * file is EEXIST. Liveness comes from /proc/net/unix, never from connecting to it (a
 * vhost-user backend would take a probe for its front-end). */
#pragma once
#include <stdbool.h>

bool sockpath_live(const char *path);
/* Non-blocking, CLOEXEC listening socket at path. */
int sockpath_listen(const char *path, int backlog, int *ret_fd);
