/* spawner.c — see spawner.h. A single job slot guarded by a mutex and a condition; callers
 * queue on `call`, so jobs never overlap. The thread inherits the caller's blocked signals,
 * so sigwait() in main still gets SIGINT/SIGTERM. Must never run client-controlled code. */
#include "spawner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t call = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static void (*job_fn)(void *);
static void *job_arg;
static bool job_done;

static void *spawner_main(void *unused)
{
        pthread_mutex_lock(&lock);
        for (;;) {
                while (!job_fn)
                        pthread_cond_wait(&cond, &lock);
                job_fn(job_arg);
                job_fn = NULL;
                job_done = true;
                pthread_cond_broadcast(&cond);
        }
        return NULL;
}

int spawner_start(void)
{
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&t, &a, spawner_main, NULL);
        pthread_attr_destroy(&a);
        return -r;
}

void spawner_run(void (*fn)(void *arg), void *arg)
{
        pthread_mutex_lock(&call);
        pthread_mutex_lock(&lock);
        job_fn = fn;
        job_arg = arg;
        job_done = false;
        pthread_cond_broadcast(&cond);
        while (!job_done)
                pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        pthread_mutex_unlock(&call);
}
