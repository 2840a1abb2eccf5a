/* pool.c - helper threads that live as long as their owner (pool.h). */
#define _GNU_SOURCE             /* sched_getcpu, pthread_setaffinity_np */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* How long a helper spins for the next job before it sleeps: about twice
 * the last gap between two jobs, so a stream of runs a few milliseconds
 * apart (a file decoded faster than real time; the element's
 * preprocessing, then its inference) finds it awake, up to
 * SN_POOL_SPIN_MAX_NS; after a longer gap (a camera's 33 ms) only
 * SN_POOL_SPIN_MIN_NS, since on a VM the host holds a long spin against
 * the vCPU's next wake (0.1 ms late after a 50 us spin, 0.8 ms after
 * 0.5 ms, 2.7 ms after 7 ms, measured on this project's Zen 3 VMs). */
#define SN_POOL_SPIN_MIN_NS 50000
#define SN_POOL_SPIN_MAX_NS 2000000
/* How long the caller spins for its helpers to leave a job before it
 * sleeps: they are finishing their last task. */
#define SN_POOL_LEAVE_SPIN_NS 50000

/* The gate of the current job: its number (high 32 bits), whether it still
 * takes helpers (OPEN), and how many are in it (low bits). */
#define GATE_OPEN (1ULL << 31)
#define GATE_COUNT(g) ((g) & (GATE_OPEN - 1))
#define GATE_JOB(g) ((unsigned) ((g) >> 32))

struct sn_pool {
  int threads;                  /* the caller and its helpers, asked for */
  int helpers;                  /* the region's threads; -1 until it runs */
  bool started, failed;         /* the thread runs / could not start */
  pthread_t thread;             /* opens the region and is its thread 0 */
  pthread_mutex_t lock;
  pthread_cond_t wake;          /* helpers wait for the next job */
  pthread_cond_t idle;          /* the caller waits for helpers to leave */
  unsigned job;                 /* number of the latest job (atomic) */
  int sleeping;                 /* helpers asleep on `wake` (under lock) */
  uint64_t gate;                /* see GATE_* (atomic) */
  int caller_cpu;               /* where the caller posted the job, or -1 */
  bool quit;                    /* the latest job is: leave the region
                                   (atomic: a helper that skips a job
                                   reads it while the caller may set it) */
  sn_pool_fn fn;
  void *data;
};

static long long
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long
spin_after_gap (long long gap_ns)
{
  if (gap_ns > SN_POOL_SPIN_MAX_NS)
    return SN_POOL_SPIN_MIN_NS;
  return 2 * gap_ns < SN_POOL_SPIN_MIN_NS ? SN_POOL_SPIN_MIN_NS
      : 2 * gap_ns > SN_POOL_SPIN_MAX_NS ? SN_POOL_SPIN_MAX_NS : 2 * gap_ns;
}

static void
broadcast (sn_pool *p, pthread_cond_t *cond)
{
  pthread_mutex_lock (&p->lock);
  pthread_cond_broadcast (cond);
  pthread_mutex_unlock (&p->lock);
}

/* A helper: until a job numbered other than `seen` is posted; spins for
 * spin_ns, then sleeps. Returns whether it slept. */
static bool
wait_for_job (sn_pool *p, unsigned seen, long long spin_ns)
{
  long long t0 = now_ns ();
  for (unsigned i = 1;; i++) {
    if (__atomic_load_n (&p->job, __ATOMIC_ACQUIRE) != seen)
      return false;
    sn_cpu_relax ();
    if (i % 64 == 0 && now_ns () - t0 > spin_ns)
      break;
  }
  pthread_mutex_lock (&p->lock);
  p->sleeping++;
  while (__atomic_load_n (&p->job, __ATOMIC_ACQUIRE) == seen)
    pthread_cond_wait (&p->wake, &p->lock);
  p->sleeping--;
  pthread_mutex_unlock (&p->lock);
  return true;
}

/* A helper woken on the caller's CPU moves off it at once: left to the
 * scheduler, the two would share that CPU until the load balancer moves
 * one, milliseconds later (a woken thread lands on its waker's CPU when
 * the other vCPU looks busy to the guest, as a halted vCPU can; measured:
 * 21-50 % of wakes after 33 ms idle). Its CPU mask is narrowed to the
 * others, which migrates it, then restored, which does not move it back. */
static void
leave_callers_cpu (int caller_cpu)
{
#ifdef __linux__
  cpu_set_t all, others;
  pthread_t self = pthread_self ();
  if (caller_cpu < 0 || caller_cpu >= CPU_SETSIZE
      || sched_getcpu () != caller_cpu
      || pthread_getaffinity_np (self, sizeof all, &all) != 0)
    return;
  others = all;
  CPU_CLR (caller_cpu, &others);
  if (CPU_COUNT (&others) == 0)
    return;
  if (pthread_setaffinity_np (self, sizeof others, &others) == 0)
    pthread_setaffinity_np (self, sizeof all, &all);
#else
  (void) caller_cpu;
#endif
}

/* A helper: into job `job` while the caller has not closed it. */
static bool
enter_job (sn_pool *p, unsigned job)
{
  uint64_t g = __atomic_load_n (&p->gate, __ATOMIC_ACQUIRE);
  while (GATE_JOB (g) == job && (g & GATE_OPEN))
    if (__atomic_compare_exchange_n (&p->gate, &g, g + 1, true,
            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      return true;
  return false;
}

static void
leave_job (sn_pool *p)
{
  uint64_t g = __atomic_sub_fetch (&p->gate, 1, __ATOMIC_ACQ_REL);
  if (!(g & GATE_OPEN) && GATE_COUNT (g) == 0)
    broadcast (p, &p->idle);    /* the caller may sleep on it */
}

#ifdef _OPENMP
static void *
pool_thread_main (void *arg)
{
  sn_pool *p = arg;
#pragma omp parallel num_threads(p->threads - 1)
  {
    int tid = 1 + omp_get_thread_num ();
    unsigned seen = 0;
    long long spin = SN_POOL_SPIN_MIN_NS, left_at = now_ns ();
#pragma omp single
    {                           /* the helpers are up: the first run may go */
      pthread_mutex_lock (&p->lock);
      p->helpers = omp_get_num_threads ();
      pthread_cond_broadcast (&p->idle);
      pthread_mutex_unlock (&p->lock);
    }
    for (;;) {
      bool slept = wait_for_job (p, seen, spin);
      seen = __atomic_load_n (&p->job, __ATOMIC_ACQUIRE);
      if (__atomic_load_n (&p->quit, __ATOMIC_RELAXED))
        break;
      spin = spin_after_gap (now_ns () - left_at);
      if (enter_job (p, seen)) {
        if (slept)
          leave_callers_cpu (p->caller_cpu);
        p->fn (p->data, tid, 1 + p->helpers);
        leave_job (p);
      }
      left_at = now_ns ();
    }
  }
  return NULL;
}
#endif

/* Starts the pool's thread and waits for its helpers; false when it
 * cannot (then the caller runs alone). */
static bool
ensure_started (sn_pool *p)
{
#ifdef _OPENMP
  if (p->started || p->failed || p->threads < 2)
    return p->started;
  if (pthread_create (&p->thread, NULL, pool_thread_main, p) != 0) {
    p->failed = true;
    return false;
  }
  p->started = true;
  pthread_mutex_lock (&p->lock);
  while (p->helpers < 0)
    pthread_cond_wait (&p->idle, &p->lock);
  pthread_mutex_unlock (&p->lock);
  return true;
#else
  (void) p;
  return false;
#endif
}

sn_pool *
sn_pool_new (int threads)
{
  sn_pool *p = calloc (1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->threads = threads;
  p->helpers = -1;
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->wake, NULL);
  pthread_cond_init (&p->idle, NULL);
  return p;
}

/* Posts the next job (its fields written before) to the helpers; returns
 * whether one of them was asleep. */
static bool
post_job (sn_pool *p)
{
  unsigned job = p->job + 1;
#ifdef __linux__
  p->caller_cpu = sched_getcpu ();
#else
  p->caller_cpu = -1;
#endif
  __atomic_store_n (&p->gate, (uint64_t) job << 32 | GATE_OPEN,
      __ATOMIC_RELEASE);
  pthread_mutex_lock (&p->lock);
  __atomic_store_n (&p->job, job, __ATOMIC_RELEASE);
  pthread_cond_broadcast (&p->wake);
  bool woke_one = p->sleeping > 0;
  pthread_mutex_unlock (&p->lock);
  return woke_one;
}

/* Closes the gate and waits until the helpers in the job have left. */
static void
close_job (sn_pool *p)
{
  uint64_t g = __atomic_and_fetch (&p->gate, ~GATE_OPEN, __ATOMIC_ACQ_REL);
  long long t0 = now_ns ();
  for (unsigned i = 1; GATE_COUNT (g) != 0; i++) {
    sn_cpu_relax ();
    g = __atomic_load_n (&p->gate, __ATOMIC_ACQUIRE);
    if (i % 64 == 0 && now_ns () - t0 > SN_POOL_LEAVE_SPIN_NS)
      break;
  }
  pthread_mutex_lock (&p->lock);
  while (GATE_COUNT (__atomic_load_n (&p->gate, __ATOMIC_ACQUIRE)) != 0)
    pthread_cond_wait (&p->idle, &p->lock);
  pthread_mutex_unlock (&p->lock);
}

void
sn_pool_run (sn_pool *p, sn_pool_fn fn, void *data)
{
  if (!ensure_started (p) || p->helpers < 1) {
    fn (data, 0, 1);
    return;
  }
  p->fn = fn;
  p->data = data;
  /* A helper just woken may wait on this CPU, behind the caller, for
   * milliseconds: give it the CPU once, long enough to move off it
   * (leave_callers_cpu). */
  if (post_job (p))
    sched_yield ();
  fn (data, 0, 1 + p->helpers);
  close_job (p);
}

void
sn_pool_free (sn_pool *p)
{
  if (p == NULL)
    return;
  if (p->started) {
    __atomic_store_n (&p->quit, true, __ATOMIC_RELAXED);  /* job: release */
    post_job (p);
    pthread_join (p->thread, NULL);
  }
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->wake);
  pthread_cond_destroy (&p->idle);
  free (p);
}
