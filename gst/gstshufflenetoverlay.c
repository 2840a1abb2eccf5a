/* gstshufflenetoverlay.c - the `shufflenetoverlay` element.
 *
 * SECTION:element-shufflenetoverlay
 * @title: shufflenetoverlay
 *
 * Draws the classes of the GstShuffleNetMeta that `shufflenet` attached to
 * each buffer ("Egyptian cat 63.5%", best first) in a box in one corner of
 * the picture; with `shufflenet inference-region=roi-list`, each
 * classified region's outline and its best class and score above it. It reads only the meta, so it can sit anywhere downstream of
 * `shufflenet`, also after videoconvert or videoscale (they keep the meta).
 * Buffers without the meta pass through untouched (not even copied).
 *
 * The text is laid out with Pango and rendered with Cairo once per new
 * text, then blended with the GstVideoOverlayComposition blender, which
 * handles the RGB family, planar and semi-planar YUV (I420, NV12, ...) and
 * packed YUV alike. Results that `shufflenet` reused from an earlier frame
 * (interval, QoS) get a "stale" line unless #GstShuffleNetOverlay:show-stale
 * is %FALSE.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=30 ! shufflenet top-k=3 ! videoconvert ! shufflenetoverlay position=bottom-left ! videoconvert ! jpegenc ! avimux ! filesink location=annotated.avi
 * ]| classifies 30 test frames and writes them, labelled, to an AVI file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstshufflenetoverlay.h"

#include <math.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "gstshufflenetmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_shufflenet_overlay_debug);
#define GST_CAT_DEFAULT gst_shufflenet_overlay_debug

#define EXAMPLE_LAUNCH_LINE \
  "gst-launch-1.0 videotestsrc num-buffers=30 ! shufflenet top-k=3 ! " \
  "videoconvert ! shufflenetoverlay position=bottom-left ! videoconvert ! " \
  "jpegenc ! avimux ! filesink location=annotated.avi"

enum
{
  PROP_0,
  PROP_POSITION,
  PROP_FONT_DESC,
  PROP_FONT_SIZE,
  PROP_TOP_K,
  PROP_SHOW_STALE,
  PROP_SHOW_TIME,
  PROP_COLOR,
  PROP_BACKGROUND,
  PROP_MARGIN
};

#define DEFAULT_POSITION GST_SHUFFLENET_OVERLAY_TOP_LEFT
#define DEFAULT_FONT_DESC "Sans Bold"
#define DEFAULT_FONT_SIZE 0.0
#define DEFAULT_TOP_K 3
#define DEFAULT_SHOW_STALE TRUE
#define DEFAULT_SHOW_TIME FALSE
#define DEFAULT_COLOR 0xffffffff        /* ARGB: opaque white */
#define DEFAULT_BACKGROUND 0xa0000000   /* ARGB: 63 % black */
#define DEFAULT_MARGIN 8

/* font-size 0: the frame height divided by this, and at least MIN_FONT_PX. */
#define AUTO_FONT_DIVISOR 20
#define MIN_FONT_PX 9.0
#define MAX_FONT_PX 1000.0
#define MAX_TOP_K 1000

struct _GstShuffleNetOverlay
{
  GstVideoFilter parent;

  /* Properties: protected by object lock */
  GstShuffleNetOverlayPosition position;
  gchar *font_desc;
  gdouble font_size;            /* pixels, 0 = auto */
  gint top_k;                   /* 0 = all classes of the result */
  gboolean show_stale;
  gboolean show_time;
  guint color;                  /* ARGB */
  guint background;             /* ARGB, alpha 0 = no box */
  gint margin;

  /* Streaming thread only (freed in stop ()) */
  PangoFontMap *font_map;
  PangoContext *context;
  gchar *cache_key;             /* everything `composition` depends on */
  GstVideoOverlayComposition *composition;
};

/* Properties copied under the lock for one frame. */
typedef struct
{
  GstShuffleNetOverlayPosition position;
  gchar *font_desc;
  gdouble font_size;
  gint top_k;
  gboolean show_stale, show_time;
  guint color, background;
  gint margin;
} Settings;

#define gst_shufflenet_overlay_parent_class parent_class
G_DEFINE_TYPE (GstShuffleNetOverlay, gst_shufflenet_overlay,
    GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (shufflenetoverlay, "shufflenetoverlay",
    GST_RANK_NONE, GST_TYPE_SHUFFLENET_OVERLAY);

/* What GstVideoOverlayComposition can blend onto (video-blend.c unpacks and
 * packs any of these); kept to the common 8-bit formats. */
#define CAPS GST_VIDEO_CAPS_MAKE ("{ RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, " \
    "ARGB, ABGR, RGB, BGR, I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY, " \
    "AYUV, GRAY8 }")

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

GType
gst_shufflenet_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_OVERLAY_TOP_LEFT, "Top left corner", "top-left"},
    {GST_SHUFFLENET_OVERLAY_TOP_RIGHT, "Top right corner", "top-right"},
    {GST_SHUFFLENET_OVERLAY_BOTTOM_LEFT, "Bottom left corner", "bottom-left"},
    {GST_SHUFFLENET_OVERLAY_BOTTOM_RIGHT, "Bottom right corner",
        "bottom-right"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetOverlayPosition", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void
read_settings (GstShuffleNetOverlay * self, Settings * st)
{
  GST_OBJECT_LOCK (self);
  st->position = self->position;
  st->font_desc = g_strdup (self->font_desc);
  st->font_size = self->font_size;
  st->top_k = self->top_k;
  st->show_stale = self->show_stale;
  st->show_time = self->show_time;
  st->color = self->color;
  st->background = self->background;
  st->margin = self->margin;
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------------------ */
/* Text and rendering */

/* The lines drawn for @result: one per class ("label 63.5%"), then a status
 * line when asked for (inference time, stale marker). */
static gchar *
format_text (const GstStructure * result, const Settings * st)
{
  GString *text = g_string_new (NULL);
  guint n = gst_shufflenet_result_get_n_classes (result);
  const gchar *label;
  gdouble score, ms = 0.0;
  guint64 age = 0;
  gboolean stale = gst_shufflenet_result_is_stale (result, &age);
  gboolean status = FALSE;

  if (st->top_k > 0)
    n = MIN (n, (guint) st->top_k);
  for (guint i = 0; i < n; i++) {
    if (!gst_shufflenet_result_get_class (result, i, NULL, &label, &score))
      break;
    g_string_append_printf (text, "%s%s %.1f%%", i > 0 ? "\n" : "",
        label != NULL ? label : "?", 100.0 * score);
  }
  if (text->len == 0)
    g_string_append (text, "(no class above the threshold)");

  gst_structure_get_double (result, "inference-time", &ms);
  if (st->show_time) {
    g_string_append_printf (text, "\n%.1f ms", ms);
    status = TRUE;
  }
  if (st->show_stale && stale)
    g_string_append_printf (text, "%sstale: %" G_GUINT64_FORMAT " frame%s old",
        status ? ", " : "\n", age, age == 1 ? "" : "s");
  return g_string_free (text, FALSE);
}

static void
set_source_argb (cairo_t * cr, guint argb)
{
  cairo_set_source_rgba (cr, ((argb >> 16) & 0xff) / 255.0,
      ((argb >> 8) & 0xff) / 255.0, (argb & 0xff) / 255.0,
      ((argb >> 24) & 0xff) / 255.0);
}

/* Font size in pixels for a frame @height pixels high. */
static gdouble
font_px (const Settings * st, gint height)
{
  if (st->font_size > 0.0)
    return st->font_size;
  return MAX (MIN_FONT_PX, (gdouble) height / AUTO_FONT_DIVISOR);
}

/* Lays out @text in the element's Pango context. */
static PangoLayout *
make_layout (GstShuffleNetOverlay * self, const gchar * text,
    const Settings * st, gint height)
{
  PangoFontDescription *desc = pango_font_description_from_string
      (st->font_desc != NULL ? st->font_desc : DEFAULT_FONT_DESC);
  PangoLayout *layout;

  if (self->font_map == NULL) {
    self->font_map = pango_cairo_font_map_new ();
    self->context = pango_font_map_create_context (self->font_map);
  }
  /* A size in font-desc wins; else font-size (or auto) in pixels. */
  if (!(pango_font_description_get_set_fields (desc) & PANGO_FONT_MASK_SIZE))
    pango_font_description_set_absolute_size (desc,
        font_px (st, height) * PANGO_SCALE);
  layout = pango_layout_new (self->context);
  pango_layout_set_font_description (layout, desc);
  pango_layout_set_text (layout, text, -1);
  pango_font_description_free (desc);
  return layout;
}

/* Where the box of @w x @h goes in a frame of @fw x @fh. */
static void
place_box (const Settings * st, gint fw, gint fh, gint w, gint h, gint * x,
    gint * y)
{
  gboolean right = st->position == GST_SHUFFLENET_OVERLAY_TOP_RIGHT
      || st->position == GST_SHUFFLENET_OVERLAY_BOTTOM_RIGHT;
  gboolean bottom = st->position == GST_SHUFFLENET_OVERLAY_BOTTOM_LEFT
      || st->position == GST_SHUFFLENET_OVERLAY_BOTTOM_RIGHT;
  gint mx = MIN (st->margin, (fw - w) / 2), my = MIN (st->margin, (fh - h) / 2);

  *x = right ? fw - w - mx : mx;
  *y = bottom ? fh - h - my : my;
}

/* The box: @layout (whose logical extents are @logical) drawn @pad pixels
 * from the edges of a @w x @h background. Returns h rows of w premultiplied
 * ARGB32 words (native endian, i.e. GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB),
 * with a video meta giving their stride. */
static GstBuffer *
draw_box (PangoLayout * layout, const PangoRectangle * logical, gint pad,
    gint w, gint h, const Settings * st)
{
  gint stride = cairo_format_stride_for_width (CAIRO_FORMAT_ARGB32, w);
  GstBuffer *pixels = gst_buffer_new_and_alloc ((gsize) stride * h);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };
  cairo_surface_t *surface;
  GstMapInfo map;
  cairo_t *cr;

  if (!gst_buffer_map (pixels, &map, GST_MAP_WRITE)) {
    gst_buffer_unref (pixels);
    return NULL;
  }
  memset (map.data, 0, map.size);
  surface = cairo_image_surface_create_for_data (map.data,
      CAIRO_FORMAT_ARGB32, w, h, stride);
  cr = cairo_create (surface);
  set_source_argb (cr, st->background);
  cairo_paint (cr);
  cairo_move_to (cr, pad - logical->x, pad - logical->y);
  set_source_argb (cr, st->color);
  pango_cairo_show_layout (cr, layout);
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  cairo_surface_destroy (surface);
  gst_buffer_unmap (pixels, &map);

  gst_buffer_add_video_meta_full (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h, 1, offset, strides);
  return pixels;
}

/* @text rendered into a box of at most @fw x @fh, font for a frame @fh
 * high; its size in *w, *h. NULL when the pixels cannot be allocated. */
static GstBuffer *
render_text (GstShuffleNetOverlay * self, const gchar * text,
    const Settings * st, gint fw, gint fh, gint * w, gint * h)
{
  PangoLayout *layout = make_layout (self, text, st, fh);
  PangoRectangle logical;
  GstBuffer *pixels;
  gint pad;

  pango_layout_get_pixel_extents (layout, NULL, &logical);
  pad = (gint) MAX (2.0, ceil (font_px (st, fh) / 4.0));
  /* The text plus padding, never larger than the frame. */
  *w = CLAMP (logical.width + 2 * pad, 1, fw);
  *h = CLAMP (logical.height + 2 * pad, 1, fh);
  pixels = draw_box (layout, &logical, pad, *w, *h, st);
  g_object_unref (layout);
  return pixels;
}

/* Adds @pixels (@w x @h, ARGB) at @x, @y to @comp (created when NULL). */
static void
add_rectangle (GstVideoOverlayComposition ** comp, GstBuffer * pixels,
    gint x, gint y, gint w, gint h)
{
  GstVideoOverlayRectangle *rect = gst_video_overlay_rectangle_new_raw (pixels,
      x, y, w, h, GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);

  if (*comp == NULL)
    *comp = gst_video_overlay_composition_new (rect);
  else
    gst_video_overlay_composition_add_rectangle (*comp, rect);
  gst_video_overlay_rectangle_unref (rect);
}

/* Renders @text into a box and wraps it as a composition placed for a
 * @fw x @fh frame, or NULL when the pixels cannot be allocated. */
static GstVideoOverlayComposition *
render (GstShuffleNetOverlay * self, const gchar * text, const Settings * st,
    gint fw, gint fh)
{
  GstVideoOverlayComposition *comp = NULL;
  GstBuffer *pixels;
  gint w, h, x, y;

  pixels = render_text (self, text, st, fw, fh, &w, &h);
  if (pixels == NULL)
    return NULL;
  place_box (st, fw, fh, w, h, &x, &y);
  add_rectangle (&comp, pixels, x, y, w, h);
  gst_buffer_unref (pixels);
  GST_LOG_OBJECT (self, "box %dx%d at %d,%d for \"%s\"", w, h, x, y, text);
  return comp;
}

/* ------------------------------------------------------------------------ */
/* Regions of interest */

/* One region to draw: its box in this frame's pixels and its label. */
typedef struct
{
  gint x, y, w, h;
  gchar *text;                  /* "label 63.5%", maybe " (stale)" */
} RegionBox;

/* The regions of @result scaled to a @fw x @fh frame (the boxes refer to
 * the frame-width x frame-height frame shufflenet saw). */
static GArray *
region_boxes (const GstStructure * result, const Settings * st, gint fw,
    gint fh)
{
  GArray *boxes = g_array_new (FALSE, FALSE, sizeof (RegionBox));
  guint sw = fw, sh = fh;
  gdouble kx, ky;

  gst_structure_get (result, "frame-width", G_TYPE_UINT, &sw,
      "frame-height", G_TYPE_UINT, &sh, NULL);
  kx = sw > 0 ? (gdouble) fw / sw : 1.0;
  ky = sh > 0 ? (gdouble) fh / sh : 1.0;
  for (guint i = 0; i < gst_shufflenet_result_get_n_rois (result); i++) {
    const GstStructure *roi = gst_shufflenet_result_get_roi (result, i);
    guint x, y, w, h;
    guint64 age = 0;
    const gchar *label;
    gdouble score;
    RegionBox b;

    if (roi == NULL || !gst_shufflenet_roi_get_box (roi, NULL, NULL, &x, &y,
            &w, &h) || !gst_shufflenet_result_get_class (roi, 0, NULL, &label,
            &score))
      continue;
    b.x = CLAMP ((gint) floor (x * kx), 0, fw - 1);
    b.y = CLAMP ((gint) floor (y * ky), 0, fh - 1);
    b.w = CLAMP ((gint) ceil ((x + w) * kx), b.x + 1, fw) - b.x;
    b.h = CLAMP ((gint) ceil ((y + h) * ky), b.y + 1, fh) - b.y;
    b.text = g_strdup_printf ("%s %.1f%%%s", label != NULL ? label : "?",
        100.0 * score, st->show_stale && gst_shufflenet_result_is_stale (roi,
            &age) ? " (stale)" : "");
    g_array_append_val (boxes, b);
  }
  return boxes;
}

static void
region_boxes_free (GArray * boxes)
{
  for (guint i = 0; i < boxes->len; i++)
    g_free (g_array_index (boxes, RegionBox, i).text);
  g_array_free (boxes, TRUE);
}

/* A 1x1 premultiplied ARGB pixel of @argb, scaled by the blender to any
 * rectangle (the outlines). */
static GstBuffer *
solid_pixel (guint argb)
{
  guint a = argb >> 24;
  guint32 px = a << 24 | (((argb >> 16) & 0xff) * a / 255) << 16
      | (((argb >> 8) & 0xff) * a / 255) << 8 | ((argb & 0xff) * a / 255);
  GstBuffer *pixels = gst_buffer_new_allocate (NULL, 4, NULL);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { 4 };

  gst_buffer_fill (pixels, 0, &px, 4);
  gst_buffer_add_video_meta_full (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, 1, 1, 1, offset, strides);
  return pixels;
}

/* Each region's outline (@st color, a line of frame height / 200 pixels,
 * at least 2) and its label above the box (inside it when the box
 * touches the top), its font half the corner box's. */
static GstVideoOverlayComposition *
render_regions (GstShuffleNetOverlay * self, GArray * boxes,
    const Settings * st, gint fw, gint fh)
{
  GstVideoOverlayComposition *comp = NULL;
  GstBuffer *line = solid_pixel (st->color);
  gint t = MAX (2, fh / 200);

  for (guint i = 0; i < boxes->len; i++) {
    const RegionBox *b = &g_array_index (boxes, RegionBox, i);
    gint lt = MIN (t, MIN (b->w, b->h)), tw, th;
    GstBuffer *label;

    add_rectangle (&comp, line, b->x, b->y, b->w, lt);
    add_rectangle (&comp, line, b->x, b->y + b->h - lt, b->w, lt);
    add_rectangle (&comp, line, b->x, b->y, lt, b->h);
    add_rectangle (&comp, line, b->x + b->w - lt, b->y, lt, b->h);
    /* labels at half the corner box's size: many may share a frame */
    label = render_text (self, b->text, st, fw, MAX (1, fh / 2), &tw, &th);
    if (label == NULL)
      continue;
    add_rectangle (&comp, label, MIN (b->x, fw - tw),
        b->y >= th ? b->y - th : b->y + lt, tw, th);
    gst_buffer_unref (label);
  }
  gst_buffer_unref (line);
  return comp;
}

/* The regions' composition, rendered again only when a box, a label or a
 * setting changed; NULL when there is nothing to draw. */
static GstVideoOverlayComposition *
get_region_composition (GstShuffleNetOverlay * self,
    const GstStructure * result, const Settings * st, const GstVideoInfo * info)
{
  gint fw = GST_VIDEO_INFO_WIDTH (info), fh = GST_VIDEO_INFO_HEIGHT (info);
  GArray *boxes = region_boxes (result, st, fw, fh);
  GString *key = g_string_new (NULL);

  g_string_append_printf (key, "rois|%dx%d|%s|%g|%08x|%08x", fw, fh,
      GST_STR_NULL (st->font_desc), st->font_size, st->color, st->background);
  for (guint i = 0; i < boxes->len; i++) {
    const RegionBox *b = &g_array_index (boxes, RegionBox, i);
    g_string_append_printf (key, "|%d,%d,%d,%d,%s", b->x, b->y, b->w, b->h,
        b->text);
  }
  if (g_strcmp0 (key->str, self->cache_key) != 0) {
    g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
    self->composition = boxes->len ? render_regions (self, boxes, st, fw, fh)
        : NULL;
    g_free (self->cache_key);
    self->cache_key = g_strdup (key->str);
  }
  g_string_free (key, TRUE);
  region_boxes_free (boxes);
  return self->composition;
}

/* The composition for @result, rendered again only when something it
 * depends on changed. */
static GstVideoOverlayComposition *
get_composition (GstShuffleNetOverlay * self, const GstStructure * result,
    const Settings * st, const GstVideoInfo * info)
{
  gint fw = GST_VIDEO_INFO_WIDTH (info), fh = GST_VIDEO_INFO_HEIGHT (info);
  gchar *text = format_text (result, st);
  gchar *key = g_strdup_printf ("%dx%d|%d|%s|%g|%08x|%08x|%d|%s", fw, fh,
      st->position, GST_STR_NULL (st->font_desc), st->font_size, st->color,
      st->background, st->margin, text);

  if (self->composition == NULL || g_strcmp0 (key, self->cache_key) != 0) {
    g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
    self->composition = render (self, text, st, fw, fh);
    g_free (self->cache_key);
    self->cache_key = g_steal_pointer (&key);
  }
  g_free (key);
  g_free (text);
  return self->composition;
}

/* ------------------------------------------------------------------------ */
/* Streaming */

/* Buffers without a result go on as they are: no writable copy. */
static GstFlowReturn
gst_shufflenet_overlay_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * input, GstBuffer ** outbuf)
{
  if (gst_shufflenet_meta_get_structure (input) == NULL) {
    *outbuf = input;
    return GST_FLOW_OK;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->prepare_output_buffer
      (trans, input, outbuf);
}

static GstFlowReturn
gst_shufflenet_overlay_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstShuffleNetOverlay *self = GST_SHUFFLENET_OVERLAY (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  const GstStructure *result = gst_shufflenet_meta_get_structure (buf);
  GstVideoOverlayComposition *comp;
  GstVideoFrame frame;
  Settings st;

  if (result == NULL)
    return GST_FLOW_OK;
  if (!filter->negotiated)
    return GST_FLOW_NOT_NEGOTIATED;

  read_settings (self, &st);
  if (gst_structure_has_field (result, "rois")) {
    comp = get_region_composition (self, result, &st, &filter->in_info);
    g_free (st.font_desc);
    if (comp == NULL)           /* no region with a class on this frame */
      return GST_FLOW_OK;
  } else {
    comp = get_composition (self, result, &st, &filter->in_info);
    g_free (st.font_desc);
  }
  if (comp == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Cannot allocate the overlay pixels"), (NULL));
    return GST_FLOW_ERROR;
  }
  if (!gst_video_frame_map (&frame, &filter->in_info, buf, GST_MAP_READWRITE)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map a video frame"),
        ("buffer %" GST_PTR_FORMAT " does not match the caps", buf));
    return GST_FLOW_ERROR;
  }
  if (!gst_video_overlay_composition_blend (comp, &frame))
    GST_WARNING_OBJECT (self, "the blender refused %s",
        GST_VIDEO_INFO_NAME (&filter->in_info));
  gst_video_frame_unmap (&frame);
  return GST_FLOW_OK;
}

static gboolean
gst_shufflenet_overlay_stop (GstBaseTransform * trans)
{
  GstShuffleNetOverlay *self = GST_SHUFFLENET_OVERLAY (trans);

  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  g_clear_pointer (&self->cache_key, g_free);
  g_clear_object (&self->context);
  g_clear_object (&self->font_map);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Properties and class */

static void
gst_shufflenet_overlay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstShuffleNetOverlay *self = GST_SHUFFLENET_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      self->position = g_value_get_enum (value);
      break;
    case PROP_FONT_DESC:
      g_free (self->font_desc);
      self->font_desc = g_value_dup_string (value);
      break;
    case PROP_FONT_SIZE:
      self->font_size = g_value_get_double (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_int (value);
      break;
    case PROP_SHOW_STALE:
      self->show_stale = g_value_get_boolean (value);
      break;
    case PROP_SHOW_TIME:
      self->show_time = g_value_get_boolean (value);
      break;
    case PROP_COLOR:
      self->color = g_value_get_uint (value);
      break;
    case PROP_BACKGROUND:
      self->background = g_value_get_uint (value);
      break;
    case PROP_MARGIN:
      self->margin = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_overlay_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstShuffleNetOverlay *self = GST_SHUFFLENET_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      g_value_set_enum (value, self->position);
      break;
    case PROP_FONT_DESC:
      g_value_set_string (value, self->font_desc);
      break;
    case PROP_FONT_SIZE:
      g_value_set_double (value, self->font_size);
      break;
    case PROP_TOP_K:
      g_value_set_int (value, self->top_k);
      break;
    case PROP_SHOW_STALE:
      g_value_set_boolean (value, self->show_stale);
      break;
    case PROP_SHOW_TIME:
      g_value_set_boolean (value, self->show_time);
      break;
    case PROP_COLOR:
      g_value_set_uint (value, self->color);
      break;
    case PROP_BACKGROUND:
      g_value_set_uint (value, self->background);
      break;
    case PROP_MARGIN:
      g_value_set_int (value, self->margin);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_overlay_finalize (GObject * object)
{
  GstShuffleNetOverlay *self = GST_SHUFFLENET_OVERLAY (object);

  gst_shufflenet_overlay_stop (GST_BASE_TRANSFORM (self));
  g_free (self->font_desc);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_shufflenet_overlay_init (GstShuffleNetOverlay * self)
{
  self->position = DEFAULT_POSITION;
  self->font_desc = g_strdup (DEFAULT_FONT_DESC);
  self->font_size = DEFAULT_FONT_SIZE;
  self->top_k = DEFAULT_TOP_K;
  self->show_stale = DEFAULT_SHOW_STALE;
  self->show_time = DEFAULT_SHOW_TIME;
  self->color = DEFAULT_COLOR;
  self->background = DEFAULT_BACKGROUND;
  self->margin = DEFAULT_MARGIN;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* Drawing is cheap: never drop a late frame (as shufflenet never does). */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}

static void
install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position",
          "Corner of the frame the text box is drawn in",
          GST_TYPE_SHUFFLENET_OVERLAY_POSITION, DEFAULT_POSITION, rw));
  g_object_class_install_property (gobject_class, PROP_FONT_DESC,
      g_param_spec_string ("font-desc", "Font description",
          "Pango font description, e.g. \"Sans Bold\" or \"Serif 14\" (a "
          "size given here, in points, overrides font-size)",
          DEFAULT_FONT_DESC, rw));
  g_object_class_install_property (gobject_class, PROP_FONT_SIZE,
      g_param_spec_double ("font-size", "Font size",
          "Text height in pixels (0 = the frame height / 20, at least 9)",
          0.0, MAX_FONT_PX, DEFAULT_FONT_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_int ("top-k", "Top k",
          "Classes drawn, best first (0 = all those in the result)",
          0, MAX_TOP_K, DEFAULT_TOP_K, rw));
  g_object_class_install_property (gobject_class, PROP_SHOW_STALE,
      g_param_spec_boolean ("show-stale", "Show stale",
          "Add a line \"stale: N frames old\" when the result was reused "
          "from an earlier frame", DEFAULT_SHOW_STALE, rw));
  g_object_class_install_property (gobject_class, PROP_SHOW_TIME,
      g_param_spec_boolean ("show-time", "Show time",
          "Add a line with the inference time of the result",
          DEFAULT_SHOW_TIME, rw));
  g_object_class_install_property (gobject_class, PROP_COLOR,
      g_param_spec_uint ("color", "Color", "Text colour as 0xAARRGGBB",
          0, G_MAXUINT32, DEFAULT_COLOR, rw));
  g_object_class_install_property (gobject_class, PROP_BACKGROUND,
      g_param_spec_uint ("background", "Background",
          "Colour of the box behind the text as 0xAARRGGBB (alpha 0: no box)",
          0, G_MAXUINT32, DEFAULT_BACKGROUND, rw));
  g_object_class_install_property (gobject_class, PROP_MARGIN,
      g_param_spec_int ("margin", "Margin",
          "Distance in pixels between the box and the frame edges",
          0, G_MAXINT16, DEFAULT_MARGIN, rw));
}

static void
gst_shufflenet_overlay_class_init (GstShuffleNetOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_shufflenet_overlay_debug, "shufflenetoverlay",
      0, "Draws ShuffleNet classifications on the video");

  gobject_class->set_property = gst_shufflenet_overlay_set_property;
  gobject_class->get_property = gst_shufflenet_overlay_get_property;
  gobject_class->finalize = gst_shufflenet_overlay_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ShuffleNet overlay", "Filter/Editor/Video",
      "Draws the top-k classes of the GstShuffleNetMeta (from shufflenet) on "
      "the video. Example: " EXAMPLE_LAUNCH_LINE, "gst-shufflenet developers");

  /* In place; GstVideoFilter's frame mapping is bypassed so that buffers
   * without a result are neither mapped nor made writable. */
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_shufflenet_overlay_prepare_output_buffer);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_shufflenet_overlay_transform_ip);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_shufflenet_overlay_stop);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_OVERLAY_POSITION, 0);
}
