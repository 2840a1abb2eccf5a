/* ftest.h - helpers of the fault tests (tests/faults/): banks of distinct
 * real frames, reference results from a lone element, result comparison,
 * per-element results of a buffer, pipelines and resident memory.
 *
 * Builds on tests/gst/sntest.h (models, the photo, harness set-up); the
 * environment is the one tests/gst/meson.build sets.
 */
#ifndef __SN_FTEST_H__
#define __SN_FTEST_H__

#include <gst/app/app.h>

#include "gstshufflenetmeta.h"
#include "sntest.h"

G_BEGIN_DECLS
/* @n distinct frames of the test photo (windows at different offsets,
 * every other one mirrored) as @format @width x @height samples. Free with
 * ft_frames_free (). */
    GstSample ** ft_frames (const gchar * format, gint width, gint height,
    gint n);
void ft_frames_free (GstSample ** frames, gint n);

/* A lone element (threads=1, interval=1, top-k=@top_k, @model) in a
 * harness with @caps: the reference a result seen elsewhere must equal. */
typedef struct _FtRef FtRef;
FtRef *ft_ref_new (const gchar * model, const gchar * caps, gint top_k);
/* Its result on @buffer's pixels (a copy of the buffer, without any
 * GstShuffleNetMeta it carries). Free with gst_structure_free (). */
GstStructure *ft_ref_classify (FtRef * ref, GstBuffer * buffer);
void ft_ref_free (FtRef * ref);

/* The reference results of @model on each of @frames (same caps). Free
 * with ft_results_free (). */
GstStructure **ft_reference (const gchar * model, GstSample ** frames, gint n,
    gint top_k);
void ft_results_free (GstStructure ** results, gint n);

/* Fails unless @got and @want are the same classification: same model and
 * class count, probabilities within FT_SCORE_TOLERANCE rank by rank, same
 * class at every rank that is not a near tie. @what names it in messages. */
#define FT_SCORE_TOLERANCE 1e-4
void ft_assert_same_result (const GstStructure * got, const GstStructure * want,
    const gchar * what);
/* The same check without failing (for threads other than the test's):
 * NULL when equal, else what differs (g_free it). */
gchar *ft_compare_results (const GstStructure * got, const GstStructure * want);

/* The result the element named @element left on @buffer's meta (the meta
 * itself when it holds one result, else the entry of its "results"), or
 * NULL. */
const GstStructure *ft_meta_result_of (GstBuffer * buffer,
    const gchar * element);

/* A pipeline from a gst_parse_launch () description (fails the test on a
 * parse error); ft_get () returns a bin's child by name (a new ref). */
GstElement *ft_pipeline (const gchar * description);
GstElement *ft_get (GstElement * bin, const gchar * name);

/* Sets @state and waits up to 30 s for it; fails unless it is reached. */
void ft_set_state (GstElement * pipeline, GstState state);

/* Sets PLAYING without waiting (an appsrc pipeline prerolls only once
 * the test pushes). */
void ft_play (GstElement * pipeline);

/* Fails if @bus holds an error or warning message; drops everything else. */
void ft_assert_no_errors (GstBus * bus);

/* Resident memory of this process in bytes (/proc/self/statm). */
gsize ft_rss (void);

/* The buffer's frame index when its PTS is @index * @duration. */
gint ft_index_of (GstClockTime pts, GstClockTime duration);

G_END_DECLS
#endif /* __SN_FTEST_H__ */
