/* pool.h - helper threads that live as long as their owner.
 *
 * sn_pool_run (p, fn, data) calls fn (data, 0, team) on the caller and
 * fn (data, tid, team) on each helper (tid 1 .. team-1) that comes to the
 * job before the caller's own call has returned, then returns once every
 * call has returned. A helper that comes later skips the job, so fn must
 * claim its work from shared counters and never count on a tid running:
 * when the helpers are slow (descheduled, or on a vCPU the host has not
 * woken yet) the caller does all of the work and waits for no one that
 * has not started. team is the same in every call: the caller and the
 * helpers the pool got (team <= the threads asked for).
 *
 * The helpers are the threads of one OpenMP parallel region (threads - 1
 * of them) that a thread of the pool's own opens at the first run and
 * keeps open until sn_pool_free. Between jobs they spin (50 us to 2 ms,
 * after the last gap between jobs: pool.c), then sleep on a condition
 * variable, so a job that follows the last closely finds them awake and an
 * idle pool costs no CPU.
 *
 * Why not one parallel region per run, as the engine had: between regions
 * libgomp's threads spin for GOMP_SPINCOUNT (about 7 ms on this project's
 * machines) before they sleep. On a VM a vCPU that spun that long is woken
 * late (2.7 ms after a 33 ms gap, against 0.05-0.1 ms after a 50 us spin);
 * a woken thread often lands on its waker's busy CPU, where it waits
 * milliseconds for the load balancer; and the region's closing barrier
 * waits for it. A 2-thread context took 10.7 ms a frame at 30 frames a
 * second, against 2.1 ms back to back and 5.2 ms on one thread. Here a
 * helper woken on the caller's CPU is given that CPU once (the caller
 * yields after waking a sleeper) and moves itself to another.
 *
 * One caller at a time (a context is used by one thread at a time).
 * Without OpenMP, or when the pool cannot start its thread, the caller
 * runs fn (data, 0, 1) alone. */
#ifndef SN_POOL_H
#define SN_POOL_H

typedef void (*sn_pool_fn) (void *data, int tid, int team);

/* One turn of a spin-wait loop (x86 PAUSE: the core's sibling runs, the
 * loop exits without a memory-order flush). */
#if defined(__x86_64__) || defined(__i386__)
#define sn_cpu_relax() __builtin_ia32_pause ()
#else
#define sn_cpu_relax() ((void) 0)
#endif

typedef struct sn_pool sn_pool;

/* `threads` counts the caller: threads - 1 helpers. NULL when out of
 * memory. No thread starts before the first run. */
sn_pool *sn_pool_new (int threads);
void sn_pool_run (sn_pool *p, sn_pool_fn fn, void *data);
/* Ends the region and joins the pool's thread. NULL is a no-op. */
void sn_pool_free (sn_pool *p);

#endif /* SN_POOL_H */
