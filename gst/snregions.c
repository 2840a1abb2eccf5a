/* snregions.c - which regions of interest to classify, and the results
 * kept per tracker id (see snregions.h). */
#include "snregions.h"

#include "snidtable.h"

GST_DEBUG_CATEGORY_STATIC (sn_regions_debug);
#define GST_CAT_DEFAULT sn_regions_debug

/* A result kept for a tracked id. */
typedef struct
{
  GQuark roi_type;              /* of the region it was made for */
  GstStructure *classes;        /* class-ids, labels, scores */
  guint64 made;                 /* frame it was made on */
} Tracked;

/* A candidate of the current frame, before max_rois. */
typedef struct
{
  guint order;                  /* index among the buffer's ROI metas */
  guint64 area;                 /* clipped, in pixels */
  SnRegion region;
} Candidate;

struct _SnRegions
{
  GArray *candidates;           /* Candidate, reused every frame */
  GArray *kept;                 /* SnRegion, reused every frame */
  SnIdTable *tracked;           /* id -> Tracked */
};

static void
tracked_free (gpointer data)
{
  Tracked *t = data;

  gst_structure_free (t->classes);
  g_free (t);
}

SnRegions *
sn_regions_new (void)
{
  static gsize debug_once = 0;
  SnRegions *r = g_new0 (SnRegions, 1);

  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (sn_regions_debug, "snregions", 0,
        "shufflenet regions of interest");
    g_once_init_leave (&debug_once, 1);
  }
  r->candidates = g_array_new (FALSE, FALSE, sizeof (Candidate));
  r->kept = g_array_new (FALSE, FALSE, sizeof (SnRegion));
  r->tracked = sn_id_table_new (tracked_free);
  return r;
}

void
sn_regions_free (SnRegions * r)
{
  if (r == NULL)
    return;
  g_array_free (r->candidates, TRUE);
  g_array_free (r->kept, TRUE);
  sn_id_table_free (r->tracked);
  g_free (r);
}

void
sn_regions_reset (SnRegions * r)
{
  sn_id_table_clear (r->tracked);
  g_array_set_size (r->kept, 0);
}

guint
sn_regions_n_tracked (const SnRegions * r)
{
  return sn_id_table_size (r->tracked);
}

/* @meta's box clipped to a w x h frame into @rect; FALSE (with the reason
 * in @why) when nothing or too little is left. */
static gboolean
clip_region (const GstVideoRegionOfInterestMeta * meta, gint w, gint h,
    guint min_size, GstVideoRectangle * rect, const gchar ** why)
{
  guint64 x1 = MIN ((guint64) meta->x + meta->w, (guint64) w);
  guint64 y1 = MIN ((guint64) meta->y + meta->h, (guint64) h);

  if (meta->w == 0 || meta->h == 0) {
    *why = "empty";
    return FALSE;
  }
  if (meta->x >= (guint) w || meta->y >= (guint) h) {
    *why = "outside the frame";
    return FALSE;
  }
  rect->x = meta->x;
  rect->y = meta->y;
  rect->w = (gint) (x1 - meta->x);
  rect->h = (gint) (y1 - meta->y);
  if ((guint) rect->w < min_size || (guint) rect->h < min_size) {
    *why = "smaller than min-roi-size";
    return FALSE;
  }
  return TRUE;
}

static gboolean
type_wanted (const SnRegionPolicy * p, GQuark type)
{
  if (p->n_types == 0)
    return TRUE;
  for (guint i = 0; i < p->n_types; i++)
    if (p->types[i] == type)
      return TRUE;
  return FALSE;
}

/* Step 1: every wanted region of @buf that survives clipping. */
static void
collect_candidates (SnRegions * r, GstBuffer * buf, const GstVideoInfo * info,
    const SnRegionPolicy * p)
{
  gpointer state = NULL;
  GstMeta *m;
  guint order = 0;

  g_array_set_size (r->candidates, 0);
  while ((m = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    Candidate c = { order++, 0, {roi, {0, 0, 0, 0}, FALSE, NULL, 0} };
    const gchar *why = NULL;

    if (!type_wanted (p, roi->roi_type))
      continue;
    if (!clip_region (roi, GST_VIDEO_INFO_WIDTH (info),
            GST_VIDEO_INFO_HEIGHT (info), p->min_size, &c.region.rect, &why)) {
      GST_DEBUG ("skipping region %d (%s %u,%u %ux%u) of a %dx%d frame: %s",
          roi->id, g_quark_to_string (roi->roi_type), roi->x, roi->y, roi->w,
          roi->h, GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
          why);
      continue;
    }
    c.area = (guint64) c.region.rect.w * c.region.rect.h;
    g_array_append_val (r->candidates, c);
  }
}

static gint
by_area_desc (gconstpointer a, gconstpointer b)
{
  const Candidate *x = a, *y = b;

  if (x->area != y->area)
    return x->area > y->area ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static gint
by_order (gconstpointer a, gconstpointer b)
{
  const Candidate *x = a, *y = b;

  return x->order < y->order ? -1 : x->order > y->order;
}

/* Step 2: the max_rois largest, in the buffer's order. */
static void
keep_largest (SnRegions * r, const SnRegionPolicy * p)
{
  if (r->candidates->len > p->max_rois) {
    GST_DEBUG ("%u regions, classifying the %u largest", r->candidates->len,
        p->max_rois);
    g_array_sort (r->candidates, by_area_desc);
    g_array_set_size (r->candidates, p->max_rois);
  }
  g_array_sort (r->candidates, by_order);
  g_array_set_size (r->kept, 0);
  for (guint i = 0; i < r->candidates->len; i++)
    g_array_append_val (r->kept,
        g_array_index (r->candidates, Candidate, i).region);
}

/* Whether kept region @i's id is its own on this frame (and not 0, the id
 * of regions nobody numbered). */
static gboolean
id_unique (SnRegions * r, guint i)
{
  gint id = g_array_index (r->kept, SnRegion, i).meta->id;

  if (id == 0)
    return FALSE;
  for (guint k = 0; k < r->kept->len; k++)
    if (k != i && g_array_index (r->kept, SnRegion, k).meta->id == id)
      return FALSE;
  return TRUE;
}

/* Step 3: results reused by id. */
static void
reuse_tracked (SnRegions * r, const SnRegionPolicy * p, guint64 frame,
    gboolean may_classify)
{
  for (guint i = 0; i < r->kept->len; i++) {
    SnRegion *reg = &g_array_index (r->kept, SnRegion, i);
    Tracked *t;

    reg->tracked = id_unique (r, i);
    if (!reg->tracked)
      continue;
    t = sn_id_table_get (r->tracked, reg->meta->id, frame);
    if (t == NULL || t->roi_type != reg->meta->roi_type)
      continue;
    if (!may_classify || frame - t->made < p->reclassify_interval) {
      reg->reused = t->classes;
      reg->age = frame - t->made;
    }
  }
}

guint
sn_regions_select (SnRegions * r, GstBuffer * buf, const GstVideoInfo * info,
    const SnRegionPolicy * p, guint64 frame, gboolean may_classify)
{
  g_return_val_if_fail (p->max_rois >= 1 && p->reclassify_interval >= 1, 0);
  collect_candidates (r, buf, info, p);
  keep_largest (r, p);
  sn_id_table_forget (r->tracked, frame, SN_REGIONS_FORGET,
      SN_REGIONS_MAX_TRACKED);
  reuse_tracked (r, p, frame, may_classify);
  return r->kept->len;
}

SnRegion *
sn_regions_get (SnRegions * r, guint i)
{
  g_return_val_if_fail (i < r->kept->len, NULL);
  return &g_array_index (r->kept, SnRegion, i);
}

void
sn_regions_store (SnRegions * r, guint i, GstStructure * classes,
    guint64 frame)
{
  SnRegion *reg = sn_regions_get (r, i);
  Tracked *t;

  if (reg == NULL || !reg->tracked) {
    gst_structure_free (classes);
    return;
  }
  t = g_new0 (Tracked, 1);
  t->roi_type = reg->meta->roi_type;
  t->classes = classes;
  t->made = frame;
  /* replaces (and frees) an older result of the id */
  sn_id_table_set (r->tracked, reg->meta->id, t, frame);
}
