/* snrunner.c - a loaded model with its context, labels and tensors. */
#include "snrunner.h"

#include <string.h>

GQuark
sn_runner_error_quark (void)
{
  return g_quark_from_static_string ("sn-runner-error-quark");
}

struct _SnRunner
{
  gchar *model_path;
  gchar *labels_path;           /* NULL: labels from the model */
  gint threads;
  sn_precision precision;
  sn_model *model;
  sn_context *ctx;
  SnModelConfig config;
  sn_input_info info;
  gint n_classes;               /* K */
  gchar **labels;               /* K names: file, metadata, or "0".."K-1" */
  float *input;                 /* one image: C x H x W or H x W x C */
  float *probs;                 /* [K] probabilities of the last run */
  gint max_batch;               /* images per batch run */
  float *batch_input;           /* [max_batch][C x H x W or H x W x C],
                                   allocated at the first batch */
  float *batch_probs;           /* [max_batch][K] */
  gboolean outputs_probs;       /* model ends in Softmax */
  gdouble warmup_ms;
};

static gboolean
load_model (SnRunner * r, GError ** error)
{
  sn_error err = { 0 };
  sn_status st;

  if (!g_file_test (r->model_path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, SN_RUNNER_ERROR, SN_RUNNER_ERROR_NOT_FOUND,
        "Model file '%s' does not exist", r->model_path);
    return FALSE;
  }
  st = sn_model_load_file_precision (r->model_path, r->precision, &r->model,
      &err);
  if (st != SN_OK) {
    gint code = (st == SN_ERR_IO || st == SN_ERR_INVALID_ARG) ?
        SN_RUNNER_ERROR_READ : (st == SN_ERR_NOMEM) ?
        SN_RUNNER_ERROR_RUN : SN_RUNNER_ERROR_UNSUPPORTED;
    g_set_error (error, SN_RUNNER_ERROR, code, "Cannot load model '%s': %s",
        r->model_path, err.message[0] ? err.message : sn_status_name (st));
    return FALSE;
  }
  sn_model_input_info (r->model, &r->info);
  r->n_classes = sn_model_num_classes (r->model);
  r->outputs_probs = sn_model_outputs_probabilities (r->model);
  if (r->info.channels != 3 || r->info.width < 1 || r->info.height < 1
      || r->info.width > SN_PREPROCESS_MAX_OUT_SIDE
      || r->info.height > SN_PREPROCESS_MAX_OUT_SIDE || r->n_classes < 1) {
    g_set_error (error, SN_RUNNER_ERROR, SN_RUNNER_ERROR_UNSUPPORTED,
        "Model '%s' has an unsupported input %dx%dx%d or %d classes "
        "(needs 3 channels)", r->model_path, r->info.channels,
        r->info.height, r->info.width, r->n_classes);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_config_and_labels (SnRunner * r, GError ** error)
{
  GError *err = NULL;

  if (!sn_model_config_read (&r->config, r->model, r->model_path, &err)) {
    g_set_error (error, SN_RUNNER_ERROR,
        err->code == SN_MODEL_CONFIG_ERROR_METADATA ?
        SN_RUNNER_ERROR_METADATA : SN_RUNNER_ERROR_LABELS,
        "Model '%s': %s", r->model_path, err->message);
    g_error_free (err);
    return FALSE;
  }
  if (r->labels_path != NULL) {
    r->labels = sn_labels_read_file (r->labels_path, r->n_classes, &err);
    if (r->labels == NULL) {
      g_set_error_literal (error, SN_RUNNER_ERROR,
          err->code == SN_MODEL_CONFIG_ERROR_LABELS_READ ?
          SN_RUNNER_ERROR_LABELS_READ : SN_RUNNER_ERROR_LABELS, err->message);
      g_error_free (err);
      return FALSE;
    }
  } else if (r->config.labels != NULL) {
    r->labels = g_strdupv (r->config.labels);
  } else {
    r->labels = g_new0 (gchar *, r->n_classes + 1);
    for (gint i = 0; i < r->n_classes; i++)
      r->labels[i] = g_strdup_printf ("%d", i);
  }
  return TRUE;
}

static gboolean
create_context (SnRunner * r, GError ** error)
{
  sn_error err = { 0 };
  sn_status st;
  gsize n_in = (gsize) r->info.channels * r->info.height * r->info.width;

  st = sn_context_create (r->model, r->threads, &r->ctx, &err);
  if (st != SN_OK) {
    g_set_error (error, SN_RUNNER_ERROR, SN_RUNNER_ERROR_RUN,
        "Cannot create an engine context for '%s': %s", r->model_path,
        err.message[0] ? err.message : sn_status_name (st));
    return FALSE;
  }
  r->input = g_new0 (float, n_in);      /* zeros: the warm-up input */
  r->probs = g_new0 (float, r->n_classes);
  /* A multiple of the threads (a batch runs one image per thread), at
   * least SN_RUNNER_MIN_BATCH: the engine's batched classifier head reads
   * its weights once per batch. */
  {
    gint t = sn_context_threads (r->ctx);
    r->max_batch = (MAX (SN_RUNNER_MIN_BATCH, t) + t - 1) / t * t;
  }
  return TRUE;
}

SnRunner *
sn_runner_new (const gchar * model_path, const gchar * labels_path,
    gint threads, gint precision, GError ** error)
{
  SnRunner *r = g_new0 (SnRunner, 1);
  const float *probs;
  gint64 t0;

  g_return_val_if_fail (model_path != NULL, NULL);

  r->model_path = g_strdup (model_path);
  r->labels_path = (labels_path != NULL && *labels_path != '\0') ?
      g_strdup (labels_path) : NULL;
  r->threads = threads;
  r->precision = (sn_precision) precision;
  if (!load_model (r, error) || !load_config_and_labels (r, error)
      || !create_context (r, error))
    goto failed;

  /* The first run pays page faults and the thread team's start; the second
   * is what a frame costs, and seeds the latency the element reports. */
  if (!sn_runner_run (r, &probs, error))
    goto failed;
  t0 = g_get_monotonic_time ();
  if (!sn_runner_run (r, &probs, error))
    goto failed;
  r->warmup_ms = (g_get_monotonic_time () - t0) / 1000.0;
  return r;

failed:
  sn_runner_free (r);
  return NULL;
}

void
sn_runner_free (SnRunner * r)
{
  if (r == NULL)
    return;
  if (r->ctx != NULL)
    sn_context_free (r->ctx);
  if (r->model != NULL)
    sn_model_free (r->model);
  sn_model_config_clear (&r->config);
  g_strfreev (r->labels);
  g_free (r->input);
  g_free (r->probs);
  g_free (r->batch_input);
  g_free (r->batch_probs);
  g_free (r->model_path);
  g_free (r->labels_path);
  g_free (r);
}

/* input [n][image] -> probs [n][K] probabilities. */
static gboolean
run_images (SnRunner * r, const float *input, gint n, float *probs,
    GError ** error)
{
  sn_error err = { 0 };
  sn_status st;

  st = sn_context_run (r->ctx, input, n, probs, &err);
  if (st != SN_OK) {
    g_set_error (error, SN_RUNNER_ERROR, SN_RUNNER_ERROR_RUN,
        "Inference with '%s' failed: %s", r->model_path,
        err.message[0] ? err.message : sn_status_name (st));
    return FALSE;
  }
  if (!r->outputs_probs)
    for (gint i = 0; i < n; i++)
      sn_softmax (probs + (gsize) i * r->n_classes, r->n_classes);
  return TRUE;
}

gboolean
sn_runner_run (SnRunner * r, const float **probs, GError ** error)
{
  if (!run_images (r, r->input, 1, r->probs, error))
    return FALSE;
  *probs = r->probs;
  return TRUE;
}

gint
sn_runner_max_batch (const SnRunner * r)
{
  return r->max_batch;
}

float *
sn_runner_batch_input (SnRunner * r)
{
  if (r->batch_input == NULL) {
    r->batch_input = g_new0 (float, (gsize) r->max_batch * r->info.channels
        * r->info.height * r->info.width);
    r->batch_probs = g_new0 (float, (gsize) r->max_batch * r->n_classes);
  }
  return r->batch_input;
}

gboolean
sn_runner_run_batch (SnRunner * r, gint n, const float **probs,
    GError ** error)
{
  g_return_val_if_fail (n >= 1 && n <= r->max_batch, FALSE);
  g_return_val_if_fail (r->batch_input != NULL, FALSE);
  if (!run_images (r, r->batch_input, n, r->batch_probs, error))
    return FALSE;
  *probs = r->batch_probs;
  return TRUE;
}

const gchar *
sn_runner_model_path (const SnRunner * r)
{
  return r->model_path;
}

const gchar *
sn_runner_labels_path (const SnRunner * r)
{
  return r->labels_path;
}

gint
sn_runner_threads (const SnRunner * r)
{
  return sn_context_threads (r->ctx);
}

const SnModelConfig *
sn_runner_config (const SnRunner * r)
{
  return &r->config;
}

void
sn_runner_input_info (const SnRunner * r, sn_input_info * info)
{
  *info = r->info;
}

gint
sn_runner_num_classes (const SnRunner * r)
{
  return r->n_classes;
}

gdouble
sn_runner_warmup_ms (const SnRunner * r)
{
  return r->warmup_ms;
}

void
sn_runner_parallel (SnRunner * r, gint n, void (*body) (void *data, int i),
    void *data)
{
  /* refuses only a NULL argument or n < 0 */
  if (sn_context_parallel (r->ctx, n, body, data, NULL) != SN_OK)
    g_critical ("sn_runner_parallel: refused (n = %d)", n);
}

float *
sn_runner_input (SnRunner * r)
{
  return r->input;
}

const gchar *const *
sn_runner_labels (const SnRunner * r)
{
  return (const gchar * const *) r->labels;
}

const gchar *
sn_runner_label (const SnRunner * r, gint id)
{
  g_return_val_if_fail (id >= 0 && id < r->n_classes, "");
  return r->labels[id];
}
