/* profile.c - per-op times of a context's last run (profile.h). */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
#include <time.h>
#endif

bool
sn_profile_init (sn_profile *p, int n_ops, int threads)
{
  memset (p, 0, sizeof *p);
  p->n_ops = n_ops;
  p->threads = threads;
  p->op_seconds = calloc (n_ops, sizeof (double));
  p->op_finish = calloc ((size_t) threads * n_ops, sizeof (double));
  return p->op_seconds && p->op_finish;
}

void
sn_profile_free (sn_profile *p)
{
  free (p->op_seconds);
  free (p->op_finish);
  memset (p, 0, sizeof *p);
}

double
sn_profile_now (void)
{
#ifdef _OPENMP
  return omp_get_wtime ();
#else
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
#endif
}

void
sn_profile_start_run (sn_profile *p)
{
  memset (p->op_seconds, 0, sizeof (double) * p->n_ops);
  p->shared_t0 = sn_profile_now ();
}

void
sn_profile_charge_alone (sn_profile *p, int i, double *t0, double weight)
{
  double t1 = sn_profile_now ();
  p->op_seconds[i] += (t1 - *t0) * weight;
  *t0 = t1;
}

void
sn_profile_stamp (sn_profile *p, int tid, int i)
{
  double now = sn_profile_now ();
  __atomic_store (&p->op_finish[(size_t) tid * p->n_ops + i], &now,
      __ATOMIC_RELAXED);
}

double
sn_profile_charge_team (sn_profile *p, int i, double t0, double weight)
{
  double end = t0;
  for (int t = 0; t < p->threads; t++) {
    double stamp;
    __atomic_load (&p->op_finish[(size_t) t * p->n_ops + i], &stamp,
        __ATOMIC_RELAXED);
    end = stamp > end ? stamp : end;
  }
  p->op_seconds[i] += (end - t0) * weight;
  return end;
}
