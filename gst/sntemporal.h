/* sntemporal.h - results that hold still over time, for the `shufflenet`
 * element: an exponential moving average of a stream's whole probability
 * vector, class-change events, and a class filter. Pure logic on float
 * vectors: the element feeds each classified frame's probabilities, in
 * stream order, to the track of its stream (the frame, or a region's
 * tracker id).
 *
 * Smoothing (smoothing = N frames, 0: off): avg = probs on a track's first
 * frame, then avg += alpha * (probs - avg) with alpha = 2 / (N + 1), over
 * all K classes.
 *
 * Change events (change_hold = H, 0: off): the reported vector's top-1
 * over the allowed classes is the "leader" of a frame. A class different
 * from the track's current class that leads H consecutive classified
 * frames, each time with a probability of at least `threshold`, becomes
 * the current class on the H-th: that frame fires a change (from the old
 * class, -1 on a track's first, to the new one, with the H-th frame's
 * probability and how long the old class held, in running time). A frame
 * led by the current class, by a third class, or below the threshold
 * breaks the run.
 *
 * Class filter: a K-entry mask; the top-k, the threshold and the events
 * consider allowed classes only (probabilities are the model's, not
 * renormalized). */
#ifndef __SN_TEMPORAL_H__
#define __SN_TEMPORAL_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  guint smoothing;              /* frames; 0: off */
  guint change_hold;            /* classified frames; 0: no events */
  gfloat threshold;             /* lowest probability of a new leader */
  const gboolean *allowed;      /* [K] class filter, or NULL: every class */
} SnTemporalConfig;

typedef struct
{
  gint from_id, to_id;          /* from_id -1: the track's first class */
  gfloat score;                 /* to_id's probability on this frame */
  GstClockTime held;            /* how long from_id led, or NONE */
} SnChange;

/* One stream's state: K classes. */
typedef struct _SnTrack SnTrack;

SnTrack *sn_track_new (gint n_classes);
void sn_track_free (SnTrack * track);

/* Forgets the average and the current class (a seek, a discontinuity, new
 * caps or segment): the next frame starts afresh. */
void sn_track_restart (SnTrack * track);

/* Feeds one classified frame's probabilities @probs [K] at @running_time
 * (NONE when unknown). Returns the vector to report, [K]: the average when
 * smoothing, else @probs; valid until the next call. Returns with
 * *@changed TRUE and @change filled when the frame fires a change. */
const float *sn_track_update (SnTrack * track, const SnTemporalConfig * config,
    const float *probs, GstClockTime running_time, gboolean * changed,
    SnChange * change);

/* The top-k of @v [K] over the allowed classes (@allowed NULL: all), best
 * first, ties by lower id; at most k ids and scores written; returns how
 * many. */
gint sn_top_k_allowed (const float *v, gint n_classes,
    const gboolean * allowed, gint k, gint * ids, float *scores);

/* Parses a class filter: "" (none: returns TRUE with *allowed NULL), or
 * comma-separated class names (as @labels spells them, case-insensitive)
 * or ids, or "@FILE" with one name or id per line. Sets *allowed to a new
 * [K] mask. FALSE with @error naming every unknown name or the unreadable
 * file. */
gboolean sn_class_filter_parse (const gchar * text,
    const gchar * const *labels, gint n_classes, gboolean ** allowed,
    GError ** error);

/* Tracks by id (regions), made on first use, forgotten when not seen for
 * SN_TRACKS_FORGET frames; at most SN_TRACKS_MAX (the least recently seen
 * go first). */
#define SN_TRACKS_FORGET 300
#define SN_TRACKS_MAX 1024
typedef struct _SnTrackSet SnTrackSet;

SnTrackSet *sn_track_set_new (gint n_classes);
void sn_track_set_free (SnTrackSet * set);
void sn_track_set_clear (SnTrackSet * set);
/* The track of @id seen on frame @frame (made when new). */
SnTrack *sn_track_set_get (SnTrackSet * set, gint id, guint64 frame);
/* Drops the tracks not seen since @frame - SN_TRACKS_FORGET, then the
 * oldest beyond SN_TRACKS_MAX. */
void sn_track_set_forget (SnTrackSet * set, guint64 frame);
guint sn_track_set_size (const SnTrackSet * set);

G_END_DECLS

#endif /* __SN_TEMPORAL_H__ */
