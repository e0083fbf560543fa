/* stale.h — what a previous emberd left behind (it crashed or was killed): per-sandbox
 * directories under <state_dir>/sandboxes and the VMMs still serving them.
 * Called once by manager_new(), before any sandbox of this run exists. */
#pragma once

/* Kills each VMM found on a leftover sb-* directory's API socket (the socket's peer, and
 * only when its command line names that socket), then removes the directory. */
int stale_cleanup(const char *sandboxes_dir, unsigned *ret_dirs, unsigned *ret_killed);
