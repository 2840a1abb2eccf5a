/* sntracker.c - region ids across frames by greatest overlap (see
 * sntracker.h). */
#include "sntracker.h"

#include <stdlib.h>

typedef struct
{
  gint id;
  GQuark type;
  GstVideoRectangle rect;       /* the last box it was given */
  guint64 last_seen;            /* frame number */
} Track;

/* A region that may continue a track, and how well. */
typedef struct
{
  gdouble iou;
  guint box, track;
} Pair;

struct _SnTracker
{
  GArray *tracks;               /* Track, in the order they started */
  GArray *pairs;                /* Pair scratch, kept between frames */
  GArray *taken;                /* gboolean per track: continued this frame */
  guint64 frame;                /* frames updated so far */
  gint next_id;
};

SnTracker *
sn_tracker_new (void)
{
  SnTracker *t = g_new0 (SnTracker, 1);

  t->tracks = g_array_new (FALSE, FALSE, sizeof (Track));
  t->pairs = g_array_new (FALSE, FALSE, sizeof (Pair));
  t->taken = g_array_new (FALSE, TRUE, sizeof (gboolean));
  t->next_id = 1;
  return t;
}

void
sn_tracker_free (SnTracker * t)
{
  if (t == NULL)
    return;
  g_array_free (t->tracks, TRUE);
  g_array_free (t->pairs, TRUE);
  g_array_free (t->taken, TRUE);
  g_free (t);
}

void
sn_tracker_reset (SnTracker * t)
{
  g_array_set_size (t->tracks, 0);
}

guint
sn_tracker_n_tracks (const SnTracker * t)
{
  return t->tracks->len;
}

static gdouble
iou (const GstVideoRectangle * a, const GstVideoRectangle * b)
{
  gint64 x0 = MAX (a->x, b->x), y0 = MAX (a->y, b->y);
  gint64 x1 = MIN ((gint64) a->x + a->w, (gint64) b->x + b->w);
  gint64 y1 = MIN ((gint64) a->y + a->h, (gint64) b->y + b->h);
  gint64 inter, uni;

  if (x1 <= x0 || y1 <= y0 || a->w <= 0 || a->h <= 0 || b->w <= 0
      || b->h <= 0)
    return 0.0;
  inter = (x1 - x0) * (y1 - y0);
  uni = (gint64) a->w * a->h + (gint64) b->w * b->h - inter;
  return (gdouble) inter / (gdouble) uni;
}

/* Best overlap first; ties in the frame's order, then the tracks'. */
static int
compare_pairs (const void *pa, const void *pb)
{
  const Pair *a = pa, *b = pb;

  if (a->iou != b->iou)
    return a->iou > b->iou ? -1 : 1;
  if (a->box != b->box)
    return a->box < b->box ? -1 : 1;
  return a->track < b->track ? -1 : (a->track > b->track);
}

/* Every (region, track) of the same type overlapping by @threshold or more,
 * best first, in t->pairs. */
static void
collect_pairs (SnTracker * t, const SnTrackBox * boxes, guint n,
    gdouble threshold)
{
  g_array_set_size (t->pairs, 0);
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < t->tracks->len; j++) {
      const Track *tr = &g_array_index (t->tracks, Track, j);
      Pair p = { 0.0, i, j };

      if (tr->type != boxes[i].type)
        continue;
      p.iou = iou (&tr->rect, &boxes[i].rect);
      if (p.iou > 0.0 && p.iou >= threshold)
        g_array_append_val (t->pairs, p);
    }
  if (t->pairs->len > 1)
    qsort (t->pairs->data, t->pairs->len, sizeof (Pair), compare_pairs);
}

static gint
take_new_id (SnTracker * t)
{
  gint id = t->next_id;

  t->next_id = id == G_MAXINT ? 1 : id + 1;
  return id;
}

/* Ends the tracks unseen for more than @max_age frames, and the longest
 * unseen beyond SN_TRACKER_MAX_TRACKS. */
static void
end_old_tracks (SnTracker * t, guint max_age)
{
  for (guint j = t->tracks->len; j-- > 0;) {
    const Track *tr = &g_array_index (t->tracks, Track, j);
    if (t->frame - tr->last_seen > max_age)
      g_array_remove_index (t->tracks, j);
  }
  while (t->tracks->len > SN_TRACKER_MAX_TRACKS) {
    guint oldest = 0;
    for (guint j = 1; j < t->tracks->len; j++)
      if (g_array_index (t->tracks, Track, j).last_seen <
          g_array_index (t->tracks, Track, oldest).last_seen)
        oldest = j;
    g_array_remove_index (t->tracks, oldest);
  }
}

void
sn_tracker_update (SnTracker * t, const SnTrackBox * boxes, guint n,
    gdouble iou_threshold, guint max_age, gint * ids)
{
  guint n_old = t->tracks->len;

  collect_pairs (t, boxes, n, iou_threshold);
  g_array_set_size (t->taken, n_old);
  for (guint j = 0; j < n_old; j++)
    g_array_index (t->taken, gboolean, j) = FALSE;
  for (guint i = 0; i < n; i++)
    ids[i] = 0;
  for (guint k = 0; k < t->pairs->len; k++) {
    const Pair *p = &g_array_index (t->pairs, Pair, k);
    Track *tr = &g_array_index (t->tracks, Track, p->track);

    if (ids[p->box] != 0 || g_array_index (t->taken, gboolean, p->track))
      continue;
    g_array_index (t->taken, gboolean, p->track) = TRUE;
    ids[p->box] = tr->id;
    tr->rect = boxes[p->box].rect;
    tr->last_seen = t->frame;
  }
  for (guint i = 0; i < n; i++)
    if (ids[i] == 0) {
      Track tr = { take_new_id (t), boxes[i].type, boxes[i].rect, t->frame };
      ids[i] = tr.id;
      g_array_append_val (t->tracks, tr);
    }
  end_old_tracks (t, max_age);
  t->frame++;
}
