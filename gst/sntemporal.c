/* sntemporal.c - smoothing, change events and the class filter (see
 * sntemporal.h). */
#include "sntemporal.h"

#include <string.h>

#include "snidtable.h"

G_DEFINE_QUARK (sn-temporal-error-quark, sn_temporal_error);

struct _SnTrack
{
  gint k;                       /* classes */
  float *avg;                   /* [K] the moving average */
  gboolean started;             /* avg holds a frame */
  gint current;                 /* current class, -1: none yet */
  GstClockTime current_since;   /* running time it became current */
  gint candidate;               /* class leading in a run, -1: none */
  guint run;                    /* frames the candidate has led */
};

SnTrack *
sn_track_new (gint n_classes)
{
  SnTrack *t = g_new0 (SnTrack, 1);

  t->k = n_classes;
  t->avg = g_new0 (float, n_classes);
  sn_track_restart (t);
  return t;
}

void
sn_track_free (SnTrack * t)
{
  if (t == NULL)
    return;
  g_free (t->avg);
  g_free (t);
}

void
sn_track_restart (SnTrack * t)
{
  t->started = FALSE;
  t->current = t->candidate = -1;
  t->current_since = GST_CLOCK_TIME_NONE;
  t->run = 0;
}

gint
sn_top_k_allowed (const float *v, gint n_classes, const gboolean * allowed,
    gint k, gint * ids, float *scores)
{
  gint n = 0;

  /* insertion into a sorted list of at most k: k is small (top-k) */
  for (gint c = 0; c < n_classes && k > 0; c++) {
    gint at;

    if (allowed != NULL && !allowed[c])
      continue;
    if (n == k && !(v[c] > scores[n - 1]))
      continue;
    at = n < k ? n++ : k - 1;
    while (at > 0 && v[c] > scores[at - 1]) {
      ids[at] = ids[at - 1];
      scores[at] = scores[at - 1];
      at--;
    }
    ids[at] = c;
    scores[at] = v[c];
  }
  return n;
}

/* The moving average with @probs folded in. */
static void
smooth (SnTrack * t, guint frames, const float *probs)
{
  const float alpha = 2.0f / (frames + 1.0f);

  if (!t->started) {
    memcpy (t->avg, probs, sizeof (float) * t->k);
    t->started = TRUE;
    return;
  }
  for (gint c = 0; c < t->k; c++)
    t->avg[c] += alpha * (probs[c] - t->avg[c]);
}

/* One frame of the change detector on the reported vector @v. */
static gboolean
detect_change (SnTrack * t, const SnTemporalConfig * cfg, const float *v,
    GstClockTime running_time, SnChange * change)
{
  gint leader;
  float score;

  if (GST_CLOCK_TIME_IS_VALID (running_time)
      && !GST_CLOCK_TIME_IS_VALID (t->current_since))
    t->current_since = running_time;    /* the track's first frame */
  if (sn_top_k_allowed (v, t->k, cfg->allowed, 1, &leader, &score) == 0
      || leader == t->current || score < cfg->threshold) {
    t->candidate = -1;
    t->run = 0;
    return FALSE;
  }
  if (leader != t->candidate) {
    t->candidate = leader;
    t->run = 0;
  }
  if (++t->run < cfg->change_hold)
    return FALSE;
  change->from_id = t->current;
  change->to_id = leader;
  change->score = score;
  change->held = GST_CLOCK_TIME_IS_VALID (running_time)
      && GST_CLOCK_TIME_IS_VALID (t->current_since) ?
      running_time - t->current_since : GST_CLOCK_TIME_NONE;
  t->current = leader;
  t->current_since = running_time;
  t->candidate = -1;
  t->run = 0;
  return TRUE;
}

const float *
sn_track_update (SnTrack * t, const SnTemporalConfig * cfg,
    const float *probs, GstClockTime running_time, gboolean * changed,
    SnChange * change)
{
  const float *v = probs;

  if (cfg->smoothing > 0) {
    smooth (t, cfg->smoothing, probs);
    v = t->avg;
  } else {
    t->started = FALSE;         /* turned on later: starts afresh */
  }
  *changed = cfg->change_hold > 0
      && detect_change (t, cfg, v, running_time, change);
  return v;
}

/* Class @name's id: a label (case-insensitive) or a decimal id; -1. */
static gint
class_id (const gchar * name, const gchar * const *labels, gint k)
{
  gchar *end;
  gint64 id;

  for (gint c = 0; c < k; c++)
    if (labels[c] != NULL && g_ascii_strcasecmp (labels[c], name) == 0)
      return c;
  id = g_ascii_strtoll (name, &end, 10);
  return *name != '\0' && *end == '\0' && id >= 0 && id < k ? (gint) id : -1;
}

/* The names of a filter: @text split at commas, or @FILE's lines. */
static gchar **
filter_names (const gchar * text, GError ** error)
{
  gchar *contents = NULL;
  gchar **names;

  if (text[0] != '@')
    return g_strsplit (text, ",", -1);
  if (!g_file_get_contents (text + 1, &contents, NULL, error))
    return NULL;
  names = g_strsplit (contents, "\n", -1);
  g_free (contents);
  return names;
}

gboolean
sn_class_filter_parse (const gchar * text, const gchar * const *labels,
    gint n_classes, gboolean ** allowed, GError ** error)
{
  GString *unknown = g_string_new (NULL);
  gboolean *mask;
  gchar **names;
  guint n_names = 0;

  *allowed = NULL;
  if (text == NULL || *text == '\0') {
    g_string_free (unknown, TRUE);
    return TRUE;
  }
  if ((names = filter_names (text, error)) == NULL) {
    g_string_free (unknown, TRUE);
    return FALSE;
  }
  mask = g_new0 (gboolean, n_classes);
  for (guint i = 0; names[i] != NULL; i++) {
    gint id;

    g_strstrip (names[i]);
    if (names[i][0] == '\0')
      continue;                 /* blank lines of a file, spaces */
    n_names++;
    if ((id = class_id (names[i], labels, n_classes)) >= 0)
      mask[id] = TRUE;
    else
      g_string_append_printf (unknown, "%s'%s'", unknown->len ? ", " : "",
          names[i]);
  }
  g_strfreev (names);
  if (unknown->len > 0 || n_names == 0) {
    g_set_error (error, sn_temporal_error_quark (), 0, n_names ?
        "unknown classes: %s (give names as the labels spell them, or ids "
        "0..%d)" : "no class names in '%s'", n_names ? unknown->str : text,
        n_classes - 1);
    g_string_free (unknown, TRUE);
    g_free (mask);
    return FALSE;
  }
  g_string_free (unknown, TRUE);
  *allowed = mask;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Tracks by id                                                        */

struct _SnTrackSet
{
  gint k;
  SnIdTable *tracks;            /* id -> SnTrack */
};

SnTrackSet *
sn_track_set_new (gint n_classes)
{
  SnTrackSet *s = g_new0 (SnTrackSet, 1);

  s->k = n_classes;
  s->tracks = sn_id_table_new ((GDestroyNotify) sn_track_free);
  return s;
}

void
sn_track_set_free (SnTrackSet * s)
{
  if (s == NULL)
    return;
  sn_id_table_free (s->tracks);
  g_free (s);
}

void
sn_track_set_clear (SnTrackSet * s)
{
  sn_id_table_clear (s->tracks);
}

guint
sn_track_set_size (const SnTrackSet * s)
{
  return sn_id_table_size (s->tracks);
}

SnTrack *
sn_track_set_get (SnTrackSet * s, gint id, guint64 frame)
{
  SnTrack *t = sn_id_table_get (s->tracks, id, frame);

  if (t == NULL) {
    t = sn_track_new (s->k);
    sn_id_table_set (s->tracks, id, t, frame);
  }
  return t;
}

void
sn_track_set_forget (SnTrackSet * s, guint64 frame)
{
  sn_id_table_forget (s->tracks, frame, SN_TRACKS_FORGET, SN_TRACKS_MAX);
}
