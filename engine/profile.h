/* profile.h - per-op times of a context's last run (sn_context_profile_at),
 * kept beside the executor (executor.c), which calls these when profiling.
 *
 * One thread alone on an image charges each op from the end of the one
 * before to its own end. A team charges op i from t0 (the previous op's
 * end; for the first op, the run's start) to the latest stamp of the
 * threads that ran its tasks: each thread stamps when it finished its last
 * task of op i, and thread 0 charges the op once it is done. The op's end
 * is then right even when a thread (thread 0 included) was preempted and
 * the others did its tasks; a stamp older than t0 (a thread without tasks
 * in op i this time) does not count. */
#ifndef SN_PROFILE_H
#define SN_PROFILE_H

#include <stdbool.h>

typedef struct {
  bool enabled;            /* set between runs (sn_context_set_profiling) */
  int n_ops, threads;
  double *op_seconds;      /* [n_ops] per image, last run */
  double shared_t0;        /* team, thread 0: where its charging of the next
                              op starts (the run's start, then the previous
                              image's end) */
  double *op_finish;       /* [threads][n_ops] team: when each thread
                              finished its last task of each op (atomic:
                              a thread may stamp op i of the next image
                              while thread 0 reads this one's) */
} sn_profile;

/* false when out of memory (then p holds what to free). */
bool sn_profile_init (sn_profile *p, int n_ops, int threads);
void sn_profile_free (sn_profile *p);

/* Seconds on a monotonic clock. */
double sn_profile_now (void);

/* A run starts: every op's time to 0, shared_t0 to now (taken by the
 * caller, not by thread 0 in the team: a thread 0 preempted before it
 * starts would find every op done by the others and charge them all from
 * its late start). */
void sn_profile_start_run (sn_profile *p);

/* One thread alone: op i ran from *t0 to now; *t0 becomes now. Each image
 * of a batch weighs `weight` (1 / images). */
void sn_profile_charge_alone (sn_profile *p, int i, double *t0,
    double weight);

/* A team: thread tid finished its last task of op i now. */
void sn_profile_stamp (sn_profile *p, int tid, int i);
/* A team, thread 0, once op i is done: charges it from t0 to the latest
 * stamp; returns op i's end. */
double sn_profile_charge_team (sn_profile *p, int i, double t0,
    double weight);

#endif /* SN_PROFILE_H */
