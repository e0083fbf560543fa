/* spawner.h — one thread of emberd without its seccomp filter, on which the VMMs (or their
 * jailers) are spawned: a filter survives execve, and emberd's forbids what a jailer does.
 * Start it before the filter and before any other thread; it runs nothing but what
 * fc-launch hands it (posix_spawn), one call at a time. */
#pragma once

int spawner_start(void);
/* Runs fn(arg) on the spawner thread and returns when it is done (FcLaunchRunner). */
void spawner_run(void (*fn)(void *arg), void *arg);
