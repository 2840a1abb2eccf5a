/* sntracker.h - ids for a detector's regions across frames: each region
 * of a frame takes the id of the track it overlaps most (intersection over
 * union, same roi_type), or a new one. No GStreamer element here: the
 * matching of `shufflenettrack` (gstshufflenettrack.c), kept apart so that
 * it can be tested alone. */
#ifndef __SN_TRACKER_H__
#define __SN_TRACKER_H__

#include <gst/video/video.h>

G_BEGIN_DECLS

/* At most this many tracks are kept; beyond, the longest unseen goes. */
#define SN_TRACKER_MAX_TRACKS 4096

/* One region of a frame: its roi_type and box (frame pixels). */
typedef struct
{
  GQuark type;
  GstVideoRectangle rect;
} SnTrackBox;

typedef struct _SnTracker SnTracker;

SnTracker *sn_tracker_new (void);
void sn_tracker_free (SnTracker * t);

/* Forgets every track (a seek, new caps): the next frame's regions get new
 * ids. Ids are never given twice (until 2^31 have been). */
void sn_tracker_reset (SnTracker * t);

/* One frame's @n regions @boxes [n]: ids [n] gets each region's id (>= 1,
 * unique on the frame). A region continues the track whose last box it
 * overlaps most, with an intersection over union of at least
 * @iou_threshold and the same type, each track continued at most once
 * (the best overlaps first); the others start tracks. Tracks not continued
 * for more than @max_age frames end. */
void sn_tracker_update (SnTracker * t, const SnTrackBox * boxes, guint n,
    gdouble iou_threshold, guint max_age, gint * ids);

/* Tracks alive now. */
guint sn_tracker_n_tracks (const SnTracker * t);

G_END_DECLS

#endif /* __SN_TRACKER_H__ */
