/* snregions.h - the regions of interest the `shufflenet` element classifies
 * (inference-region=roi-list): which of a buffer's
 * GstVideoRegionOfInterestMeta to take, clipped to the frame, and the
 * results a tracker's ids let it reuse for reclassify-interval frames.
 *
 * No inference here: the element batches the chosen regions through its
 * runner (snrunner.h) and hands each result back with
 * sn_regions_store ().
 *
 * Selection, per frame:
 *  1. every ROI meta whose roi_type is in the policy's types (all when
 *     none are given) is clipped to the frame; one entirely outside it,
 *     or narrower or shorter than min_size after clipping, is skipped
 *     (a debug line says why);
 *  2. the max_rois largest (by clipped area; the buffer's order among
 *     equals) are kept, in the buffer's order;
 *  3. a kept region whose id is tracked (id != 0 and unique on the frame)
 *     and whose id had a result of the same roi_type fewer than
 *     reclassify_interval frames ago reuses it (stale, with its age);
 *     when the frame may not be classified (interval, QoS) any result the
 *     id has is reused; the others are to be classified (or, when the
 *     frame may not be, get nothing).
 * Results are kept per id for ids seen within the last SN_REGIONS_FORGET
 * frames, at most SN_REGIONS_MAX_TRACKED of them (the least recently seen
 * go first). */
#ifndef __SN_REGIONS_H__
#define __SN_REGIONS_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define SN_REGIONS_MAX_TRACKED 1024
#define SN_REGIONS_FORGET 300

typedef struct
{
  const GQuark *types;          /* [n_types] roi_types to classify */
  guint n_types;                /* 0: every roi_type */
  guint min_size;               /* skip regions narrower or shorter */
  guint max_rois;               /* at most this many a frame, largest first */
  guint reclassify_interval;    /* >= 1: reuse a tracked id's result for
                                   reclassify_interval - 1 frames */
} SnRegionPolicy;

typedef struct
{
  GstVideoRegionOfInterestMeta *meta;   /* on the buffer */
  GstVideoRectangle rect;       /* the region clipped to the frame */
  gboolean tracked;             /* its id may key a reused result */
  const GstStructure *reused;   /* the class arrays of an earlier result,
                                   or NULL */
  guint64 age;                  /* frames since @reused was made */
} SnRegion;

typedef struct _SnRegions SnRegions;

SnRegions *sn_regions_new (void);
void sn_regions_free (SnRegions * regions);

/* Forgets every kept result (a seek, a new model, new caps). */
void sn_regions_reset (SnRegions * regions);

/* Chooses the regions of @buf (frame @info, frame number @frame) to
 * classify; @may_classify is FALSE on frames that interval or QoS skip.
 * Returns how many were kept: sn_regions_get () 0 .. n - 1. Memory is
 * reused from frame to frame. */
guint sn_regions_select (SnRegions * regions, GstBuffer * buf,
    const GstVideoInfo * info, const SnRegionPolicy * policy, guint64 frame,
    gboolean may_classify);

/* Kept region @i of the last selection. */
SnRegion *sn_regions_get (SnRegions * regions, guint i);

/* Stores @classes (a structure holding class-ids, labels, scores; taken)
 * as region @i's fresh result of frame @frame, reusable by its id when it
 * is tracked. */
void sn_regions_store (SnRegions * regions, guint i, GstStructure * classes,
    guint64 frame);

/* Results kept now (tests). */
guint sn_regions_n_tracked (const SnRegions * regions);

G_END_DECLS

#endif /* __SN_REGIONS_H__ */
