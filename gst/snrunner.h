/* snrunner.h - one loaded model ready to classify: the engine model and a
 * context, its metadata defaults, its labels, and the input/output tensors.
 *
 * sn_runner_new () does all the slow work (read and plan the model, read the
 * labels, allocate, one warm-up run) so that the element can call it off the
 * streaming thread and swap the result in. A runner is then used by one
 * thread at a time.
 */
#ifndef __SN_RUNNER_H__
#define __SN_RUNNER_H__

#include <glib.h>

#include "shufflenet.h"
#include "snmodelconfig.h"

G_BEGIN_DECLS

#define SN_RUNNER_ERROR (sn_runner_error_quark ())
GQuark sn_runner_error_quark (void);

typedef enum
{
  SN_RUNNER_ERROR_NOT_FOUND,    /* model file does not exist */
  SN_RUNNER_ERROR_READ,         /* model file unreadable (engine SN_ERR_IO) */
  SN_RUNNER_ERROR_UNSUPPORTED,  /* not ONNX, or not a model the engine runs */
  SN_RUNNER_ERROR_LABELS_READ,  /* labels file missing or unreadable */
  SN_RUNNER_ERROR_LABELS,       /* labels malformed or count != classes */
  SN_RUNNER_ERROR_METADATA,     /* malformed shufflenet.* metadata */
  SN_RUNNER_ERROR_RUN,          /* the engine failed to create or run */
} SnRunnerError;

typedef struct _SnRunner SnRunner;

/* Loads @model_path in @precision (an sn_precision), takes the labels from
 * @labels_path (NULL or "": from the model's metadata, else class ids),
 * creates a context of @threads threads (0 = all cores) and runs once on
 * zeros. Errors name the file (and, for a precision this CPU lacks, why). */
SnRunner *sn_runner_new (const gchar * model_path, const gchar * labels_path,
    gint threads, gint precision, GError ** error);
void sn_runner_free (SnRunner * runner);

const gchar *sn_runner_model_path (const SnRunner * runner);
const gchar *sn_runner_labels_path (const SnRunner * runner);   /* or NULL */
/* Threads the inference context runs (the requested count, 0 resolved). */
gint sn_runner_threads (const SnRunner * runner);
const SnModelConfig *sn_runner_config (const SnRunner * runner);
void sn_runner_input_info (const SnRunner * runner, sn_input_info * info);
gint sn_runner_num_classes (const SnRunner * runner);
/* Duration of the warm-up run, in milliseconds. */
gdouble sn_runner_warmup_ms (const SnRunner * runner);

/* body (data, i) for every i in [0, n) on the inference threads
 * (sn_context_parallel ()); returns when all are done. */
void sn_runner_parallel (SnRunner * runner, gint n,
    void (*body) (void *data, int i), void *data);

/* The input tensor to fill before sn_runner_run (): one image,
 * C x H x W (NCHW) or H x W x C (NHWC) as sn_runner_input_info () says. */
float *sn_runner_input (SnRunner * runner);

/* Runs the model on the input tensor. On success @probs points to K
 * probabilities (softmax of the logits, or the model's own softmax), owned
 * by the runner and valid until the next run. */
gboolean sn_runner_run (SnRunner * runner, const float **probs,
    GError ** error);

/* Batches (the element's regions of interest): at most
 * sn_runner_max_batch () images a run, a multiple of the threads and at
 * least SN_RUNNER_MIN_BATCH, so memory does not grow with the number of
 * regions. */
#define SN_RUNNER_MIN_BATCH 8
gint sn_runner_max_batch (const SnRunner * runner);

/* The batch input tensor: max_batch images back to back, each as
 * sn_runner_input () (C x H x W or H x W x C). Allocated at the first
 * call and kept. */
float *sn_runner_batch_input (SnRunner * runner);

/* Runs the first @n (1 .. max_batch) images of the batch input. On
 * success @probs points to n x K probabilities (image i at i * K), owned
 * by the runner and valid until the next batch run. */
gboolean sn_runner_run_batch (SnRunner * runner, gint n, const float **probs,
    GError ** error);

/* The K labels (a NULL-terminated array owned by the runner). */
const gchar *const *sn_runner_labels (const SnRunner * runner);

/* Label text of class @id: the label, or the id as decimal text. */
const gchar *sn_runner_label (const SnRunner * runner, gint id);

G_END_DECLS

#endif /* __SN_RUNNER_H__ */
