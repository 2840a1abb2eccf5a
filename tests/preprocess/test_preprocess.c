/* test_preprocess.c - gst/snpreprocess.c against a naive reference.
 *
 * The reference is tests/common/refpre.c (the tests' one reference
 * preprocessing, written from scratch: its own byte layouts, Kr/Kb
 * constants and geometry, in double precision).
 *
 * Every check runs with each instruction set this CPU has, forced with
 * SHUFFLENET_ISA as the engine reads it: ref (the plain C kernels), avx2
 * and avx512 (both the AVX2 + FMA kernels).
 *
 * Run one case: GST_CHECKS=test_formats_vs_reference ./test_preprocess */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#include "refpre.h"
#include "shufflenet.h"
#include "snpreprocess.h"

/* ------------------------------------------------------------------ */
/* Frames                                                              */

/* Frame strides: exactly the bytes of a row (odd strides included, the
 * last row ends at the end of the allocation so reads past it are heap
 * overflows under ASan/valgrind), or rows padded by an odd 37 bytes. */
typedef enum
{
  STRIDE_EXACT,
  STRIDE_PADDED
} StrideKind;

/* Builds a buffer laid out with the given strides for info's format and
 * size; *layout receives the matching GstVideoInfo (offsets, strides). */
static GstBuffer *
make_buffer (const GstVideoInfo * info, StrideKind kind, GstVideoInfo * layout)
{
  const GstVideoFormatInfo *finfo = info->finfo;
  gsize offset = 0;

  *layout = *info;
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gsize row = 0, rows;

    gst_video_format_info_component (finfo, p, comp);
    for (int i = 0; i < GST_VIDEO_MAX_COMPONENTS && comp[i] >= 0; i++)
      row = MAX (row, (gsize) GST_VIDEO_INFO_COMP_WIDTH (info, comp[i])
          * GST_VIDEO_INFO_COMP_PSTRIDE (info, comp[i]));
    rows = GST_VIDEO_INFO_COMP_HEIGHT (info, comp[0]);
    layout->stride[p] = row + (kind == STRIDE_PADDED ? 37 : 0);
    layout->offset[p] = offset;
    offset += layout->stride[p] * rows;
  }
  layout->size = offset;
  /* exactly offset bytes (gst_buffer_new_allocate adds alignment slack) */
  return gst_buffer_new_wrapped (g_malloc (offset), offset);
}

/* Copies every byte of every row of src into dst (same format and size;
 * gst_video_frame_copy () skips the last chroma byte of odd-width YUY2). */
static void
copy_rows (const GstVideoFrame * src, const GstVideoFrame * dst)
{
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (src); p++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gsize row = MIN (GST_VIDEO_FRAME_PLANE_STRIDE (src, p),
        GST_VIDEO_FRAME_PLANE_STRIDE (dst, p));
    int rows;

    gst_video_format_info_component (src->info.finfo, p, comp);
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (src, comp[0]);
    for (int y = 0; y < rows; y++)
      memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (dst, p)
          + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (dst, p),
          (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (src, p)
          + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (src, p), row);
  }
}

/* Random bytes: xorshift32 seeded from @rand (one g_rand call a buffer:
 * a call a byte made this the slowest part of the suite under valgrind). */
static void
fill_random (GstBuffer * buf, GRand * rand)
{
  GstMapInfo map;
  guint32 x = g_rand_int (rand) | 1;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    map.data[i] = (guint8) (x >> 24);
  }
  gst_buffer_unmap (buf, &map);
}

static GstVideoInfo
video_info (GstVideoFormat format, int w, int h)
{
  GstVideoInfo info;

  fail_unless (gst_video_info_set_format (&info, format, w, h));
  return info;
}

/* ------------------------------------------------------------------ */
/* Running the preprocessor                                            */

static gsize
tensor_len (const SnPreprocessConfig * c)
{
  return (gsize) 3 * c->out_width * c->out_height;
}

/* Runs a preprocessor built from info on a frame mapped with layout, on
 * `threads` threads; the output starts as NaN so an unwritten value shows. */
static float *
run_pre_threads (const GstVideoInfo * info, const SnPreprocessConfig * c,
    const GstVideoFrame * frame, int threads)
{
  GError *err = NULL;
  SnPreprocessor *pre = sn_preprocessor_new (info, c, &err);
  float *out = g_new (float, tensor_len (c));

  fail_unless (pre != NULL, "new: %s", err ? err->message : "?");
  sn_preprocessor_set_threads (pre, threads);
  for (gsize i = 0; i < tensor_len (c); i++)
    out[i] = NAN;
  sn_preprocessor_run (pre, frame, out);
  sn_preprocessor_free (pre);
  return out;
}

static float *
run_pre (const GstVideoInfo * info, const SnPreprocessConfig * c,
    const GstVideoFrame * frame)
{
  return run_pre_threads (info, c, frame, 1);
}

/* Largest |a - b| (NaN counts as infinite); *at receives its index. */
static double
max_diff (const float *a, const float *b, gsize n, gsize * at)
{
  double worst = 0.0;

  *at = 0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - b[i]);
    if (isnan (d))
      d = INFINITY;
    if (d > worst)
      worst = d, *at = i;
  }
  return worst;
}

/* The instruction sets to run the checks on: those this CPU runs. */
static const char *const isa_modes[] = { "ref", "avx2", "avx512" };

/* Forces @isa (SHUFFLENET_ISA); FALSE when this CPU does not run it. */
static gboolean
use_isa (const char *isa)
{
  g_setenv ("SHUFFLENET_ISA", isa, TRUE);
  return strcmp (sn_isa_name (), isa) == 0;
}

/* ------------------------------------------------------------------ */
/* Every format, size and stride against the reference                 */

static const SnPreprocessConfig ref_configs[] = {
  /* stretch, planar RGB, ImageNet normalization */
  {SN_CHANNEL_ORDER_RGB, 1.0f / 255.0f, {0.485f, 0.456f, 0.406f},
      {0.229f, 0.224f, 0.225f}, SN_RESIZE_STRETCH, 0, 224, 224, FALSE},
  /* Megvii crop on a non-square tensor, BGR, raw 0..255, NHWC */
  {SN_CHANNEL_ORDER_BGR, 1.0f, {0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f},
      SN_RESIZE_CROP, 0, 96, 80, TRUE},
  /* letterbox into a portrait tensor, planar */
  {SN_CHANNEL_ORDER_RGB, 1.0f, {120.0f, 110.0f, 100.0f}, {60.0f, 50.0f, 40.0f},
      SN_RESIZE_LETTERBOX, 0, 64, 96, FALSE},
};

/* Even and odd sizes as in the brief, plus tiny ones that make every tap
 * an edge case (one-pixel rows and columns, upscaling by up to 224x). */
static const int ref_sizes[][2] = {
  {384, 288}, {385, 289}, {1, 1}, {2, 2}, {3, 5}, {17, 9}
};

/* Tolerance, in 0..255 pixel levels: both sides compute in float/double
 * from the same bytes; the fused pass blends YUV before converting
 * (equal up to rounding, as conversion is affine) and keeps float
 * weights. 0.01 level is far above the ~1e-4 rounding seen and far below
 * any wrong tap, weight (a weight off by 1e-3 moves a 0..255 edge by 0.25)
 * or matrix entry. */
#define REF_TOL_LEVELS 0.01

static double
tolerance (const SnPreprocessConfig * c, double levels)
{
  double k = 0.0;

  for (int i = 0; i < 3; i++)
    k = MAX (k, fabs (c->scale / c->std[i]));
  return levels * k;
}

static void
check_against_reference (const GstVideoInfo * info, const RefLayout * l,
    StrideKind stride, const SnPreprocessConfig * c, GRand * rand)
{
  GstVideoInfo lay;
  GstBuffer *buf = make_buffer (info, stride, &lay);
  GstVideoFrame frame;
  RefMatrix m = ref_matrix (l, &info->colorimetry);
  float *want = g_new (float, tensor_len (c)), *got;
  gsize at;
  double d;

  fill_random (buf, rand);
  fail_unless (gst_video_frame_map (&frame, &lay, buf, GST_MAP_READ));
  got = run_pre (info, c, &frame);
  if (ref_under_valgrind ())    /* the path ran: pass 1 checks numbers */
    memcpy (want, got, sizeof (float) * tensor_len (c));
  else
    ref_tensor (&frame, l, &m, c, want);
  d = max_diff (got, want, tensor_len (c), &at);
  fail_unless (d <= tolerance (c, REF_TOL_LEVELS),
      "%s %dx%d stride %s colorimetry %s resize %d %dx%d isa %s: "
      "value %" G_GSIZE_FORMAT " is %g, reference %g",
      gst_video_format_to_string (l->format), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), stride == STRIDE_EXACT ? "exact" :
      "padded", gst_video_colorimetry_to_string (&info->colorimetry),
      c->resize, c->out_width, c->out_height,
      g_getenv ("SHUFFLENET_ISA"), at, got[at], want[at]);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  g_free (got);
  g_free (want);
}

GST_START_TEST (test_formats_vs_reference)
{
  GRand *rand = g_rand_new_with_seed (20240611);
  int cases = 0;

  for (guint s = 0; s < G_N_ELEMENTS (isa_modes); s++) {
    if (!use_isa (isa_modes[s]))
      continue;
    for (guint f = 0; f < ref_n_layouts; f++) {
      for (guint z = 0; z < G_N_ELEMENTS (ref_sizes); z++) {
        GstVideoInfo info = video_info (ref_layouts[f].format, ref_sizes[z][0],
            ref_sizes[z][1]);
        if (ref_under_valgrind () && z == 0)
          continue;             /* there: 385x289 and the tiny sizes */
        for (int st = STRIDE_EXACT; st <= STRIDE_PADDED; st++) {
          for (guint c = 0; c < G_N_ELEMENTS (ref_configs); c++, cases++)
            check_against_reference (&info, &ref_layouts[f], st, &ref_configs[c],
                rand);
        }
      }
    }
  }
  GST_INFO ("%d cases", cases);
  g_unsetenv ("SHUFFLENET_ISA");
  g_rand_free (rand);
}

GST_END_TEST;

/* YUV matrices and ranges other than the SD default. */
GST_START_TEST (test_colorimetry_vs_reference)
{
  static const char *const colorimetries[] = {
    "bt601", "bt709", "bt2020", "1:4:0:0" /* BT.601 full range */ ,
    "1:3:0:0" /* BT.709 full */ , "1:6:0:0" /* BT.2020 full */
  };
  GRand *rand = g_rand_new_with_seed (7);

  for (guint s = 0; s < G_N_ELEMENTS (isa_modes); s++) {
    if (!use_isa (isa_modes[s]))
      continue;
    for (guint f = 0; f < ref_n_layouts; f++) {
      if (ref_layouts[f].kind == REF_RGB || ref_layouts[f].kind == REF_GRAY)
        continue;
      for (guint k = 0; k < G_N_ELEMENTS (colorimetries); k++) {
        GstVideoInfo info = video_info (ref_layouts[f].format, 385, 289);
        fail_unless (gst_video_colorimetry_from_string (&info.colorimetry,
                colorimetries[k]));
        check_against_reference (&info, &ref_layouts[f], STRIDE_PADDED,
            &ref_configs[0], rand);
      }
    }
  }
  g_unsetenv ("SHUFFLENET_ISA");
  g_rand_free (rand);
}

GST_END_TEST;

/* Bands of rows on several threads give the 1-thread tensor, bit for bit,
 * for every resize mode and one format of each plane structure (odd sizes:
 * uneven bands), including more threads than active rows (64 against the
 * letterbox's 48). */
GST_START_TEST (test_threads_identical)
{
  static const int thread_counts[] = { 2, 3, 7, 64 };
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_RGB,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_GRAY8
  };
  GRand *rand = g_rand_new_with_seed (99);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoInfo info = video_info (formats[f], 385, 289), lay;
    GstBuffer *buf = make_buffer (&info, STRIDE_PADDED, &lay);
    GstVideoFrame frame;

    fill_random (buf, rand);
    fail_unless (gst_video_frame_map (&frame, &lay, buf, GST_MAP_READ));
    for (guint c = 0; c < G_N_ELEMENTS (ref_configs); c++) {
      const SnPreprocessConfig *cfg = &ref_configs[c];
      float *one = run_pre_threads (&info, cfg, &frame, 1);
      for (guint t = 0; t < G_N_ELEMENTS (thread_counts); t++) {
        int n = thread_counts[t];
        float *many = run_pre_threads (&info, cfg, &frame, n);
        fail_unless (memcmp (one, many, sizeof (float) * tensor_len (cfg))
            == 0, "%s config %u: %d threads differ from 1",
            gst_video_format_to_string (formats[f]), c, n);
        g_free (many);
      }
      g_free (one);
    }
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buf);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* One RGB scene encoded into every format                             */

/* RGB [h][w] scene: smooth gradients plus a white rectangle, a dark disc
 * and a saturated red square (hard edges that chroma subsampling blurs). */
static GstBuffer *
make_scene (const GstVideoInfo * info)
{
  int w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info->size, NULL);
  GstVideoFrame f;

  fail_unless (gst_video_frame_map (&f, info, buf, GST_MAP_WRITE));
  for (int y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (int x = 0; x < w; x++) {
      double fx = (double) x / (w - 1), fy = (double) y / (h - 1);
      double r = 30 + 200 * fx, g = 40 + 180 * fy;
      double b = 128 + 90 * sin (6.0 * fx + 3.0 * fy);
      double dx = x - 0.7 * w, dy = y - 0.6 * h;
      if (x > w / 8 && x < w / 3 && y > h / 6 && y < h / 2)
        r = g = b = 250;
      if (dx * dx + dy * dy < 0.01 * w * w)
        r = g = b = 10;
      if (x > w / 2 && x < 0.6 * w && y > 0.1 * h && y < 0.3 * h)
        r = 240, g = 20, b = 20;
      row[3 * x] = (guint8) r, row[3 * x + 1] = (guint8) g;
      row[3 * x + 2] = (guint8) b;
    }
  }
  gst_video_frame_unmap (&f);
  return buf;
}

/* Converts an RGB buffer to info_out with GstVideoConverter (no dither). */
static GstBuffer *
convert_to (const GstVideoInfo * info_in, GstBuffer * in,
    const GstVideoInfo * info_out)
{
  GstVideoConverter *conv = gst_video_converter_new ((GstVideoInfo *) info_in,
      (GstVideoInfo *) info_out, gst_structure_new ("options",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL));
  GstBuffer *out = gst_buffer_new_allocate (NULL, info_out->size, NULL);
  GstVideoFrame fi, fo;

  fail_unless (conv != NULL);
  fail_unless (gst_video_frame_map (&fi, info_in, in, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fo, info_out, out, GST_MAP_WRITE));
  gst_video_converter_frame (conv, &fi, &fo);
  gst_video_frame_unmap (&fi);
  gst_video_frame_unmap (&fo);
  gst_video_converter_free (conv);
  return out;
}

static float *
tensor_of (const GstVideoInfo * info, GstBuffer * buf,
    const SnPreprocessConfig * c)
{
  GstVideoFrame f;
  float *t;

  fail_unless (gst_video_frame_map (&f, info, buf, GST_MAP_READ));
  t = run_pre (info, c, &f);
  gst_video_frame_unmap (&f);
  return t;
}

/* Mean and maximum |a - b| over n values, and the share above lim. */
static void
diff_stats (const float *a, const float *b, gsize n, double lim,
    double *mean, double *max, double *over)
{
  gsize count = 0;

  *mean = *max = 0.0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - b[i]);
    *mean += d / n;
    *max = MAX (*max, isnan (d) ? INFINITY : d);
    count += d > lim;
  }
  *over = (double) count / n;
}

/* Tolerances, in 0..255 levels, for a format's tensor against the RGB
 * one (stretch to 224x224 of a 384x288 / 385x289 scene):
 *  - packed RGB formats hold the same bytes: rounding only;
 *  - YUV: 8-bit Y/U/V quantization (each code is 1.16 (Y) to 2 (Cr/Cb)
 *    RGB levels wide) keeps smooth areas within a few levels; chroma
 *    subsampling (4:2:0 / 4:2:2, averaged by the converter, replicated by
 *    us) smears the hard colour edges of the shapes, so the largest errors
 *    sit there: the bound is on the mean and on the share of values more
 *    than 8 levels off, not on the maximum;
 *  - GRAY8 is compared with the BT.601 luma of the RGB tensor. */
typedef struct
{
  double mean, share_over_8, max;
} Tol;

/* measured (384x288 and 385x289): 4:2:0 mean 0.85, 0.46 % over 8, max 60;
 * 4:2:2 mean 0.89, 0.25 % over 8, max 48; GRAY8 mean 0.44, max 1.25 */
static const Tol tol_yuv420 = { 1.2, 0.01, 255.0 };
static const Tol tol_yuv422 = { 1.2, 0.006, 255.0 };
static const Tol tol_gray = { 0.6, 0.0, 2.0 };

static void
check_scene (int w, int h)
{
  const SnPreprocessConfig c = { SN_CHANNEL_ORDER_RGB, 1.0f, {0, 0, 0},
  {1, 1, 1}, SN_RESIZE_STRETCH, 0, 224, 224, FALSE
  };
  const gsize n = tensor_len (&c), plane = n / 3;
  GstVideoInfo rgb_info = video_info (GST_VIDEO_FORMAT_RGB, w, h);
  GstBuffer *scene = make_scene (&rgb_info);
  float *rgb = tensor_of (&rgb_info, scene, &c);
  float *luma = g_new (float, n);

  for (gsize i = 0; i < plane; i++)
    luma[i] = luma[plane + i] = luma[2 * plane + i] = 0.299f * rgb[i]
        + 0.587f * rgb[plane + i] + 0.114f * rgb[2 * plane + i];
  for (guint f = 0; f < ref_n_layouts; f++) {
    GstVideoInfo info = video_info (ref_layouts[f].format, w, h);
    GstBuffer *buf = convert_to (&rgb_info, scene, &info);
    float *t = tensor_of (&info, buf, &c);
    RefKind k = ref_layouts[f].kind;
    const float *want = k == REF_GRAY ? luma : rgb;
    double mean, max, over;

    diff_stats (t, want, n, 8.0, &mean, &max, &over);
    GST_INFO ("%s %dx%d: mean %.3f max %.2f over-8 %.4f",
        gst_video_format_to_string (ref_layouts[f].format), w, h, mean, max, over);
    if (k == REF_RGB) {
      fail_unless (max <= 1e-3, "%s: max %g", gst_video_format_to_string
          (ref_layouts[f].format), max);
    } else {
      const Tol *tol = k == REF_GRAY ? &tol_gray : k == REF_YUY2 || k == REF_UYVY
          ? &tol_yuv422 : &tol_yuv420;
      fail_unless (mean <= tol->mean && over <= tol->share_over_8
          && max <= tol->max,
          "%s %dx%d: mean |diff| %.3f (max %.3f), %.4f of values > 8 levels "
          "(max %.4f), largest %.2f (max %.2f)", gst_video_format_to_string
          (ref_layouts[f].format), w, h, mean, tol->mean, over,
          tol->share_over_8, max, tol->max);
    }
    g_free (t);
    gst_buffer_unref (buf);
  }
  g_free (luma);
  g_free (rgb);
  gst_buffer_unref (scene);
}

GST_START_TEST (test_formats_consistent)
{
  check_scene (384, 288);
  check_scene (385, 289);
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* Geometry, channel order, normalization, layout: hand-derived values */

/* RGB ramp w x h (w, h <= 256): R = x, G = y, B = 255 - x. A bilinear
 * sample of it at (u, v) is (u, v, 255 - u) exactly: the tensor shows the
 * source position each tensor pixel was taken from. */
static float *
ramp_tensor (int w, int h, const SnPreprocessConfig * c)
{
  GstVideoInfo info = video_info (GST_VIDEO_FORMAT_RGB, w, h);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame f;
  float *t;

  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (int y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (int x = 0; x < w; x++)
      row[3 * x] = x, row[3 * x + 1] = y, row[3 * x + 2] = 255 - x;
  }
  gst_video_frame_unmap (&f);
  t = tensor_of (&info, buf, c);
  gst_buffer_unref (buf);
  return t;
}

/* Tensor value of channel k at row i, column j. */
static float
at (const float *t, const SnPreprocessConfig * c, int k, int i, int j)
{
  if (c->out_nhwc)
    return t[((gsize) i * c->out_width + j) * 3 + k];
  return t[((gsize) k * c->out_height + i) * c->out_width + j];
}

/* Expects tensor (i, j) to show source position (u, v): R = u, G = v. */
#define assert_pos(t, c, i, j, u, v) G_STMT_START { \
  fail_unless (fabs (at (t, c, 0, i, j) - (u)) < 1e-3, \
      "(%d,%d): u %g, expected %g", i, j, at (t, c, 0, i, j), (double) (u)); \
  fail_unless (fabs (at (t, c, 1, i, j) - (v)) < 1e-3, \
      "(%d,%d): v %g, expected %g", i, j, at (t, c, 1, i, j), (double) (v)); \
} G_STMT_END

static SnPreprocessConfig
plain_config (SnResizeMode mode, int ow, int oh)
{
  SnPreprocessConfig c = { SN_CHANNEL_ORDER_RGB, 1.0f, {0, 0, 0}, {1, 1, 1},
  mode, 0, ow, oh, FALSE
  };
  return c;
}

GST_START_TEST (test_stretch_geometry)
{
  /* 200x100 -> 100x50: scale 2, u = (j + 0.5) * 2 - 0.5 = 2j + 0.5 */
  SnPreprocessConfig c = plain_config (SN_RESIZE_STRETCH, 100, 50);
  float *t = ramp_tensor (200, 100, &c);

  assert_pos (t, &c, 0, 0, 0.5, 0.5);
  assert_pos (t, &c, 25, 50, 100.5, 50.5);
  assert_pos (t, &c, 49, 99, 198.5, 98.5);
  g_free (t);

  /* 10x10 -> 40x40 (upscaling): u = (j + 0.5) / 4 - 0.5, clamped at 0 and
   * 9 at the edges */
  c = plain_config (SN_RESIZE_STRETCH, 40, 40);
  t = ramp_tensor (10, 10, &c);
  assert_pos (t, &c, 0, 0, 0.0, 0.0);
  assert_pos (t, &c, 3, 2, 0.125, 0.375);
  assert_pos (t, &c, 20, 20, 4.625, 4.625);
  assert_pos (t, &c, 39, 38, 9.0, 9.0);
  g_free (t);
}

GST_END_TEST;

GST_START_TEST (test_crop_geometry)
{
  /* 240x160 -> 112x112, short side round (112 * 256 / 224) = 128: resized
   * 192x128, window at (40, 8), step 240 / 192 = 1.25 */
  SnPreprocessConfig c = plain_config (SN_RESIZE_CROP, 112, 112);
  float *t = ramp_tensor (240, 160, &c);

  assert_pos (t, &c, 0, 0, 40.5 * 1.25 - 0.5, 8.5 * 1.25 - 0.5);
  assert_pos (t, &c, 56, 56, 96.5 * 1.25 - 0.5, 64.5 * 1.25 - 0.5);
  assert_pos (t, &c, 111, 111, 151.5 * 1.25 - 0.5, 119.5 * 1.25 - 0.5);
  g_free (t);

  /* 241 wide: long side floor (128 * 241 / 160 + 0.5) = 193, offset
   * (193 - 112) / 2 = 40.5 rounds to even 40 (Python round) */
  t = ramp_tensor (241, 160, &c);
  assert_pos (t, &c, 0, 0, 40.5 * 241 / 193 - 0.5, 8.5 * 1.25 - 0.5);
  g_free (t);

  /* 244 wide: 195, offset 41.5 rounds to even 42 */
  t = ramp_tensor (244, 160, &c);
  assert_pos (t, &c, 0, 0, 42.5 * 244 / 195 - 0.5, 8.5 * 1.25 - 0.5);
  g_free (t);

  /* explicit short side 160: no scaling, window at (64, 24) */
  c.short_side = 160;
  t = ramp_tensor (240, 160, &c);
  assert_pos (t, &c, 0, 0, 64.0, 24.0);
  assert_pos (t, &c, 111, 111, 175.0, 135.0);
  g_free (t);

  /* portrait 100x200 into a landscape 160x96 tensor: short side 110 would
   * give 110x220, too narrow; grows to 160x320 (scale 1.6), window at
   * (0, 112), step 0.625; u at column 0 is -0.1875, clamped to 0 */
  c = plain_config (SN_RESIZE_CROP, 160, 96);
  t = ramp_tensor (100, 200, &c);
  assert_pos (t, &c, 0, 0, 0.0, 112.5 * 0.625 - 0.5);
  assert_pos (t, &c, 95, 159, 99.0, 207.5 * 0.625 - 0.5);
  assert_pos (t, &c, 48, 80, 80.5 * 0.625 - 0.5, 160.5 * 0.625 - 0.5);
  g_free (t);
}

GST_END_TEST;

/* Every value of rows [i0, i1) x columns [j0, j1) is exactly 0. */
static void
assert_zero (const float *t, const SnPreprocessConfig * c, int i0, int i1,
    int j0, int j1)
{
  for (int k = 0; k < 3; k++)
    for (int i = i0; i < i1; i++)
      for (int j = j0; j < j1; j++)
        fail_unless (at (t, c, k, i, j) == 0.0f, "bar (%d,%d,%d) = %g", k, i,
            j, at (t, c, k, i, j));
}

GST_START_TEST (test_letterbox_geometry)
{
  /* 200x100 -> 64x64: scale 0.32, image 64x32 at rows [16, 48), step
   * 3.125; bars are tensor 0 (the mean colour), not (0 - mean) / std */
  SnPreprocessConfig c = plain_config (SN_RESIZE_LETTERBOX, 64, 64);
  float *t;

  c.mean[0] = 10, c.mean[1] = 20, c.mean[2] = 30;
  for (int nhwc = 0; nhwc <= 1; nhwc++) {
    c.out_nhwc = nhwc;
    t = ramp_tensor (200, 100, &c);
    assert_zero (t, &c, 0, 16, 0, 64);
    assert_zero (t, &c, 48, 64, 0, 64);
    assert_pos (t, &c, 16, 0, 1.0625 - 10, 1.0625 - 20);
    assert_pos (t, &c, 47, 63, 197.9375 - 10, 97.9375 - 20);
    g_free (t);
  }

  /* portrait 100x200 -> 64x64: image 32x64 at columns [16, 48) */
  t = ramp_tensor (100, 200, &c);
  assert_zero (t, &c, 0, 64, 0, 16);
  assert_zero (t, &c, 0, 64, 48, 64);
  assert_pos (t, &c, 0, 16, 1.0625 - 10, 1.0625 - 20);
  assert_pos (t, &c, 32, 31, 47.9375 - 10, 101.0625 - 20);
  g_free (t);
}

GST_END_TEST;

GST_START_TEST (test_channels_and_normalization)
{
  /* 200x100 stretched to 100x50, tensor (0,0) samples (0.5, 0.5):
   * R = 0.5, G = 0.5, B = 254.5 */
  SnPreprocessConfig c = plain_config (SN_RESIZE_STRETCH, 100, 50);
  float *rgb, *bgr, *nchw, *nhwc;

  c.scale = 1.0f / 255.0f;
  c.mean[0] = 0.485f, c.mean[1] = 0.456f, c.mean[2] = 0.406f;
  c.std[0] = 0.229f, c.std[1] = 0.224f, c.std[2] = 0.225f;
  rgb = ramp_tensor (200, 100, &c);
  fail_unless (fabs (at (rgb, &c, 0, 0, 0) - (0.5 / 255 - 0.485) / 0.229)
      < 1e-5);
  fail_unless (fabs (at (rgb, &c, 1, 0, 0) - (0.5 / 255 - 0.456) / 0.224)
      < 1e-5);
  fail_unless (fabs (at (rgb, &c, 2, 0, 0) - (254.5 / 255 - 0.406) / 0.225)
      < 1e-5);

  /* BGR: channel 0 is blue, normalized with mean[0] / std[0] */
  c.channel_order = SN_CHANNEL_ORDER_BGR;
  bgr = ramp_tensor (200, 100, &c);
  fail_unless (fabs (at (bgr, &c, 0, 0, 0) - (254.5 / 255 - 0.485) / 0.229)
      < 1e-5);
  fail_unless (fabs (at (bgr, &c, 2, 0, 0) - (0.5 / 255 - 0.406) / 0.225)
      < 1e-5);

  /* NHWC holds the same values as NCHW, interleaved */
  c.out_nhwc = FALSE;
  nchw = ramp_tensor (200, 100, &c);
  c.out_nhwc = TRUE;
  nhwc = ramp_tensor (200, 100, &c);
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 50; i++)
      for (int j = 0; j < 100; j++)
        fail_unless (nhwc[(i * 100 + j) * 3 + k] ==
            nchw[(k * 50 + i) * 100 + j]);
  g_free (rgb);
  g_free (bgr);
  g_free (nchw);
  g_free (nhwc);
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* Colour anchors                                                      */

/* Tensor (levels, RGB order) of a 6x4 frame of one colour: bytes c[] are
 * written into every pixel's channels (Y U V or R G B; GRAY8 uses c[0]). */
static void
solid_rgb (GstVideoFormat format, const char *colorimetry, const int *c,
    double *rgb)
{
  const RefLayout *l = NULL;
  GstVideoInfo info = video_info (format, 6, 4);
  SnPreprocessConfig cfg = plain_config (SN_RESIZE_STRETCH, 3, 2);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame f;
  float *t;

  for (guint i = 0; i < ref_n_layouts; i++)
    if (ref_layouts[i].format == format)
      l = &ref_layouts[i];
  if (colorimetry)
    fail_unless (gst_video_colorimetry_from_string (&info.colorimetry,
            colorimetry));
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (int y = 0; y < 4; y++) {
    for (int x = 0; x < 6; x++) {
      guint8 *p = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
          + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
      if (l->kind == REF_RGB) {
        p[x * l->bpp + l->r] = c[0], p[x * l->bpp + l->g] = c[1];
        p[x * l->bpp + l->b] = c[2];
      } else if (l->kind == REF_GRAY) {
        p[x] = c[0];
      } else {                  /* I420 */
        p[x] = c[0];
        for (int k = 1; k <= 2; k++)
          ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, k))[(y / 2) *
              GST_VIDEO_FRAME_PLANE_STRIDE (&f, k) + x / 2] = c[k];
      }
    }
  }
  gst_video_frame_unmap (&f);
  t = tensor_of (&info, buf, &cfg);
  for (int k = 0; k < 3; k++)
    rgb[k] = at (t, &cfg, k, 1, 2);
  g_free (t);
  gst_buffer_unref (buf);
}

#define assert_rgb(rgb, r, g, b) G_STMT_START { \
  fail_unless (fabs ((rgb)[0] - (r)) < 0.01 && fabs ((rgb)[1] - (g)) < 0.01 \
      && fabs ((rgb)[2] - (b)) < 0.01, "got (%g, %g, %g), expected " \
      "(%g, %g, %g)", (rgb)[0], (rgb)[1], (rgb)[2], (double) (r), \
      (double) (g), (double) (b)); \
} G_STMT_END

GST_START_TEST (test_colour_anchors)
{
  /* BT.601: Kr 0.299, Kb 0.114; BT.709: Kr 0.2126, Kb 0.0722 */
  const double g601_u = 2 * 0.114 * 0.886 / 0.587;
  const double g601_v = 2 * 0.299 * 0.701 / 0.587;
  const double g709_u = 2 * 0.0722 * 0.9278 / 0.7152;
  const double g709_v = 2 * 0.2126 * 0.7874 / 0.7152;
  double rgb[3];

  /* limited range black, white, mid grey */
  solid_rgb (GST_VIDEO_FORMAT_I420, "bt601", (int[]) { 16, 128, 128 }, rgb);
  assert_rgb (rgb, 0, 0, 0);
  solid_rgb (GST_VIDEO_FORMAT_I420, "bt601", (int[]) { 235, 128, 128 }, rgb);
  assert_rgb (rgb, 255, 255, 255);
  solid_rgb (GST_VIDEO_FORMAT_I420, "bt601", (int[]) { 126, 128, 128 }, rgb);
  assert_rgb (rgb, 110 * 255.0 / 219, 110 * 255.0 / 219, 110 * 255.0 / 219);
  /* BT.601 limited red: G and B slightly below 0, clamped */
  solid_rgb (GST_VIDEO_FORMAT_I420, "bt601", (int[]) { 81, 90, 240 }, rgb);
  assert_rgb (rgb, 255 * (65 / 219.0 + 1.402 * 112 / 224), 0, 0);
  /* above 255, clamped; G inside */
  solid_rgb (GST_VIDEO_FORMAT_I420, "bt601", (int[]) { 255, 128, 255 }, rgb);
  assert_rgb (rgb, 255, 255 * (239 / 219.0 - g601_v * 127 / 224), 255);
  /* BT.709 full range; B below 0 */
  solid_rgb (GST_VIDEO_FORMAT_I420, "1:3:0:0", (int[]) { 100, 60, 200 }, rgb);
  assert_rgb (rgb, 100 + 1.5748 * 72, 100 + g709_u * 68 - g709_v * 72, 0);
  (void) g601_u;

  /* GRAY8 into all three channels; RGB as is; limited-range RGB expanded */
  solid_rgb (GST_VIDEO_FORMAT_GRAY8, NULL, (int[]) { 77, 0, 0 }, rgb);
  assert_rgb (rgb, 77, 77, 77);
  solid_rgb (GST_VIDEO_FORMAT_xBGR, NULL, (int[]) { 1, 128, 254 }, rgb);
  assert_rgb (rgb, 1, 128, 254);
  solid_rgb (GST_VIDEO_FORMAT_RGB, "2:1:0:0", (int[]) { 16, 235, 126 }, rgb);
  assert_rgb (rgb, 0, 255, 110 * 255.0 / 219);
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* Refusals                                                            */

static void
assert_refused (const GstVideoInfo * info, const SnPreprocessConfig * c,
    SnPreprocessError code, const char *needle)
{
  GError *err = NULL;
  SnPreprocessor *pre = sn_preprocessor_new (info, c, &err);

  fail_unless (pre == NULL);
  fail_unless (err != NULL);
  fail_unless (g_error_matches (err, SN_PREPROCESS_ERROR, code),
      "code %d: %s", err->code, err->message);
  fail_unless (strstr (err->message, needle) != NULL,
      "\"%s\" does not name \"%s\"", err->message, needle);
  g_error_free (err);
  /* no GError wanted: still refused, no crash */
  fail_unless (sn_preprocessor_new (info, c, NULL) == NULL);
}

GST_START_TEST (test_bad_config_refused)
{
  GstVideoInfo i420 = video_info (GST_VIDEO_FORMAT_I420, 64, 48), bad;
  SnPreprocessConfig ok = plain_config (SN_RESIZE_STRETCH, 224, 224), c;

  bad = video_info (GST_VIDEO_FORMAT_v210, 64, 48);
  assert_refused (&bad, &ok, SN_PREPROCESS_ERROR_FORMAT, "v210");
  bad = video_info (GST_VIDEO_FORMAT_YV12, 64, 48);
  assert_refused (&bad, &ok, SN_PREPROCESS_ERROR_FORMAT, "YV12");
  bad = i420;
  bad.interlace_mode = GST_VIDEO_INTERLACE_MODE_ALTERNATE;
  assert_refused (&bad, &ok, SN_PREPROCESS_ERROR_FORMAT, "alternate");
  bad = i420;
  bad.width = 0;
  assert_refused (&bad, &ok, SN_PREPROCESS_ERROR_SIZE, "0x48");

  c = ok, c.out_width = 0;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_SIZE, "0x224");
  c = ok, c.out_height = -3;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_SIZE, "224x-3");
  c = ok, c.out_width = SN_PREPROCESS_MAX_OUT_SIDE + 1;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_SIZE, "16385");
  c = ok, c.std[1] = 0.0f;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "std[1] = 0");
  c = ok, c.std[2] = INFINITY;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "std[2]");
  c = ok, c.mean[0] = NAN;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "mean[0]");
  c = ok, c.scale = INFINITY;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "scale");
  c = ok, c.short_side = -5;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "-5");
  c = ok, c.resize = (SnResizeMode) 7;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "resize mode 7");
  c = ok, c.channel_order = (SnChannelOrder) 5;
  assert_refused (&i420, &c, SN_PREPROCESS_ERROR_CONFIG, "channel order 5");

  fail_if (sn_preprocess_format_supported (GST_VIDEO_FORMAT_v210));
  fail_if (sn_preprocess_format_supported (GST_VIDEO_FORMAT_UNKNOWN));
}

GST_END_TEST;

/* The caps string and sn_preprocess_format_supported () agree, and every
 * listed format is one the layouts above test. */
GST_START_TEST (test_caps_list_formats)
{
  GstCaps *caps = gst_caps_from_string (SN_PREPROCESS_VIDEO_CAPS);
  const GValue *list = gst_structure_get_value (gst_caps_get_structure (caps,
          0), "format");
  guint n = gst_value_list_get_size (list);

  fail_unless_equals_int (n, ref_n_layouts);
  for (guint i = 0; i < n; i++) {
    GstVideoFormat f = gst_video_format_from_string (g_value_get_string
        (gst_value_list_get_value (list, i)));
    gboolean tested = FALSE;
    fail_unless (sn_preprocess_format_supported (f));
    for (guint k = 0; k < ref_n_layouts; k++)
      tested |= ref_layouts[k].format == f;
    fail_unless (tested);
  }
  {
    guint n_raw;
    const GstVideoFormat *raw = gst_video_formats_raw (&n_raw);
    for (guint r = 0; r < n_raw; r++) {
      gboolean listed = FALSE;
      for (guint k = 0; k < ref_n_layouts; k++)
        listed |= ref_layouts[k].format == raw[r];
      fail_unless (sn_preprocess_format_supported (raw[r]) == listed, "%s",
          gst_video_format_to_string (raw[r]));
    }
  }
  gst_caps_unref (caps);
}

GST_END_TEST;

/* A frame of another size is refused with a critical, out untouched. */
GST_START_TEST (test_wrong_frame_refused)
{
  GstVideoInfo info = video_info (GST_VIDEO_FORMAT_RGB, 64, 48);
  GstVideoInfo other = video_info (GST_VIDEO_FORMAT_RGB, 65, 48);
  SnPreprocessConfig c = plain_config (SN_RESIZE_STRETCH, 8, 8);
  SnPreprocessor *pre = sn_preprocessor_new (&info, &c, NULL);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, other.size, NULL);
  float out[3 * 8 * 8];
  GstVideoFrame f;

  fail_unless (pre != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (out); i++)
    out[i] = 42.0f;
  fail_unless (gst_video_frame_map (&f, &other, buf, GST_MAP_READ));
  ASSERT_CRITICAL (sn_preprocessor_run (pre, &f, out));
  for (guint i = 0; i < G_N_ELEMENTS (out); i++)
    fail_unless (out[i] == 42.0f);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (buf);
  sn_preprocessor_free (pre);
}

GST_END_TEST;

/* One preprocessor, frames of the same picture with different strides
 * (exact rows, then rows padded with other random bytes): strides come
 * from each frame, not from the info given to new (). */
GST_START_TEST (test_strides_per_frame)
{
  GRand *rand = g_rand_new_with_seed (3);

  for (guint l = 0; l < ref_n_layouts; l++) {
    GstVideoInfo info = video_info (ref_layouts[l].format, 77, 51), exact, padded;
    SnPreprocessConfig c = ref_configs[0];
    GstBuffer *a = make_buffer (&info, STRIDE_EXACT, &exact);
    GstBuffer *b = make_buffer (&info, STRIDE_PADDED, &padded);
    SnPreprocessor *pre = sn_preprocessor_new (&info, &c, NULL);
    float *ta = g_new (float, tensor_len (&c));
    float *tb = g_new (float, tensor_len (&c));
    GstVideoFrame fa, fb;

    fill_random (a, rand);
    fill_random (b, rand);
    fail_unless (gst_video_frame_map (&fa, &exact, a, GST_MAP_READ));
    fail_unless (gst_video_frame_map (&fb, &padded, b, GST_MAP_WRITE));
    copy_rows (&fa, &fb);
    sn_preprocessor_run (pre, &fa, ta);
    sn_preprocessor_run (pre, &fb, tb);
    fail_unless (memcmp (ta, tb, sizeof (float) * tensor_len (&c)) == 0,
        "%s", gst_video_format_to_string (ref_layouts[l].format));
    gst_video_frame_unmap (&fa);
    gst_video_frame_unmap (&fb);
    gst_buffer_unref (a);
    gst_buffer_unref (b);
    g_free (ta);
    g_free (tb);
    sn_preprocessor_free (pre);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* Timing print (no assertion): 1080p -> 3x224x224                     */

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Min and median microseconds of runs over n_frames distinct frames in
 * turn (1: the frame stays in cache; 8 x 3-6 MB: it mostly does not). */
#define RUNS 200

static void
time_format (GstVideoFormat format, SnResizeMode mode, int n_frames)
{
  GstVideoInfo info = video_info (format, 1920, 1080);
  SnPreprocessConfig c = ref_configs[0];
  SnPreprocessor *pre;
  GstVideoFrame frames[8];
  GstBuffer *bufs[8];
  GRand *rand = g_rand_new_with_seed (1);
  float *out = g_new (float, 3 * 224 * 224);
  double us[RUNS];

  c.resize = mode;
  pre = sn_preprocessor_new (&info, &c, NULL);
  for (int i = 0; i < n_frames; i++) {
    bufs[i] = gst_buffer_new_allocate (NULL, info.size, NULL);
    fill_random (bufs[i], rand);
    fail_unless (gst_video_frame_map (&frames[i], &info, bufs[i],
            GST_MAP_READ));
  }
  for (int r = -10; r < RUNS; r++) {
    gint64 t0 = g_get_monotonic_time ();
    sn_preprocessor_run (pre, &frames[(r + 10) % n_frames], out);
    if (r >= 0)
      us[r] = (double) (g_get_monotonic_time () - t0);
  }
  qsort (us, RUNS, sizeof (double), cmp_double);
  g_print ("timing: %-5s 1920x1080 -> 3x224x224 %-7s %s, %d frame%s: "
      "min %4.0f us, median %4.0f us\n", gst_video_format_to_string (format),
      mode == SN_RESIZE_CROP ? "crop" : "stretch",
      sn_isa_name (),
      n_frames, n_frames > 1 ? "s" : "", us[0], us[RUNS / 2]);
  for (int i = 0; i < n_frames; i++) {
    gst_video_frame_unmap (&frames[i]);
    gst_buffer_unref (bufs[i]);
  }
  sn_preprocessor_free (pre);
  g_free (out);
  g_rand_free (rand);
}

/* ------------------------------------------------------------------ */
/* Regions of interest                                                 */

/* Regions of a frame of at least 16x12: odd coordinates and sizes, one
 * pixel, one row, one column, the whole frame, the bottom-right corner,
 * and wider and taller than the tensor's aspect. */
static int
test_regions (int w, int h, GstVideoRectangle * r)
{
  const GstVideoRectangle all[] = {
    {1, 3, w / 3 | 1, h / 2 | 1}, {0, 0, w, h}, {w - 1, h - 1, 1, 1},
    {w / 2, 1, 1, h - 2}, {1, h / 2, w - 2, 1}, {w / 5 | 1, h / 7 | 1, 5, 3},
    {2, 2, w - 3, h - 3}, {w - 7, 0, 7, h},
  };

  memcpy (r, all, sizeof (all));
  return G_N_ELEMENTS (all);
}

/* Every format, odd and even frame sizes, exact and padded strides, every
 * config: each region's tensor against the reference crop, with all the
 * frame's regions in one call on 1 and 3 threads (3: whole rounds of a
 * region per thread, then the rest in bands). */
GST_START_TEST (test_regions_vs_reference)
{
  static const int sizes[][2] = { {385, 289}, {18, 14} };
  GRand *rand = g_rand_new_with_seed (1717);
  int cases = 0;

  for (guint s = 0; s < G_N_ELEMENTS (isa_modes); s++) {
    if (!use_isa (isa_modes[s]))
      continue;
    for (guint f = 0; f < ref_n_layouts; f++) {
      for (guint z = 0; z < G_N_ELEMENTS (sizes); z++) {
        GstVideoInfo info = video_info (ref_layouts[f].format, sizes[z][0],
            sizes[z][1]), lay;
        StrideKind st = z == 0 ? STRIDE_EXACT : STRIDE_PADDED;
        GstBuffer *buf = make_buffer (&info, st, &lay);
        RefMatrix m = ref_matrix (&ref_layouts[f], &info.colorimetry);
        GstVideoRectangle regions[16];
        int n = test_regions (sizes[z][0], sizes[z][1], regions);
        GstVideoFrame frame;
        double *img;

        fill_random (buf, rand);
        fail_unless (gst_video_frame_map (&frame, &lay, buf, GST_MAP_READ));
        img = ref_under_valgrind ()? NULL :
            ref_rgb_image (&frame, &ref_layouts[f], &m);
        for (guint c = 0; c < G_N_ELEMENTS (ref_configs); c++) {
          const SnPreprocessConfig *cfg = &ref_configs[c];
          const gsize len = tensor_len (cfg);
          float *want = g_new (float, len);
          float *got[2] = { g_new (float, len * n), g_new (float, len * n) };
          static const int threads[2] = { 1, 3 };

          for (int t = 0; t < 2; t++) {
            SnPreprocessor *pre = sn_preprocessor_new (&info, cfg, NULL);
            fail_unless (pre != NULL);
            sn_preprocessor_set_threads (pre, threads[t]);
            for (gsize i = 0; i < len * n; i++)
              got[t][i] = NAN;
            sn_preprocessor_run_regions (pre, &frame, regions, n, got[t]);
            sn_preprocessor_free (pre);
          }
          fail_unless (memcmp (got[0], got[1], sizeof (float) * len * n) == 0,
              "%s: regions on 3 threads differ from 1",
              gst_video_format_to_string (ref_layouts[f].format));
          for (int i = 0; i < n && img != NULL; i++, cases++) {
            gsize at;
            double d;

            ref_tensor_region (img, sizes[z][0], sizes[z][1], cfg,
                &regions[i], want);
            d = max_diff (got[0] + len * i, want, len, &at);
            fail_unless (d <= tolerance (cfg, REF_TOL_LEVELS),
                "%s %dx%d region (%d,%d %dx%d) config %u isa %s: value %"
                G_GSIZE_FORMAT " is %g, reference %g",
                gst_video_format_to_string (ref_layouts[f].format), sizes[z][0],
                sizes[z][1], regions[i].x, regions[i].y, regions[i].w,
                regions[i].h, c, isa_modes[s], at, got[0][len * i + at],
                want[at]);
          }
          g_free (want);
          g_free (got[0]);
          g_free (got[1]);
        }
        g_free (img);
        gst_video_frame_unmap (&frame);
        gst_buffer_unref (buf);
      }
    }
  }
  GST_INFO ("%d region cases", cases);
  g_unsetenv ("SHUFFLENET_ISA");
  g_rand_free (rand);
}

GST_END_TEST;

/* The whole frame as a region gives sn_preprocessor_run ()'s bits; an RGB
 * region gives the bits of the same pixels copied into a frame of their
 * own (nothing outside the region leaks in). */
GST_START_TEST (test_region_equals_own_frame)
{
  GstVideoInfo info = video_info (GST_VIDEO_FORMAT_RGB, 385, 289), lay;
  GstVideoInfo sub = video_info (GST_VIDEO_FORMAT_RGB, 101, 77);
  GstVideoRectangle whole = { 0, 0, 385, 289 }, r = { 131, 57, 101, 77 };
  GstBuffer *buf = make_buffer (&info, STRIDE_PADDED, &lay);
  GstBuffer *subbuf = gst_buffer_new_allocate (NULL, sub.size, NULL);
  GRand *rand = g_rand_new_with_seed (3);
  GstVideoFrame frame, subframe;

  fill_random (buf, rand);
  fail_unless (gst_video_frame_map (&frame, &lay, buf, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&subframe, &sub, subbuf, GST_MAP_WRITE));
  for (int y = 0; y < r.h; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&subframe, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&subframe, 0),
        (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + (gsize) (r.y + y) * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0)
        + r.x * 3, (gsize) r.w * 3);
  for (guint c = 0; c < G_N_ELEMENTS (ref_configs); c++) {
    const SnPreprocessConfig *cfg = &ref_configs[c];
    const gsize len = tensor_len (cfg);
    SnPreprocessor *pre = sn_preprocessor_new (&info, cfg, NULL);
    float *region = g_new (float, len), *alone;
    float *frame_t = run_pre (&info, cfg, &frame);

    sn_preprocessor_run_regions (pre, &frame, &whole, 1, region);
    fail_unless (memcmp (region, frame_t, sizeof (float) * len) == 0,
        "config %u: the whole-frame region differs from the frame", c);
    sn_preprocessor_run_regions (pre, &frame, &r, 1, region);
    alone = run_pre (&sub, cfg, &subframe);
    fail_unless (memcmp (region, alone, sizeof (float) * len) == 0,
        "config %u: the region differs from its pixels as a frame", c);
    sn_preprocessor_free (pre);
    g_free (region);
    g_free (alone);
    g_free (frame_t);
  }
  gst_video_frame_unmap (&subframe);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (subbuf);
  gst_buffer_unref (buf);
  g_rand_free (rand);
}

GST_END_TEST;

/* Regions not inside the frame, or empty, are refused before anything is
 * written. */
GST_START_TEST (test_bad_regions_refused)
{
  GstVideoInfo info = video_info (GST_VIDEO_FORMAT_I420, 64, 48);
  static const SnPreprocessConfig *cfg = &ref_configs[0];
  const GstVideoRectangle bad[] = {
    {-1, 0, 8, 8}, {0, -1, 8, 8}, {0, 0, 0, 8}, {0, 0, 8, 0}, {60, 0, 5, 8},
    {0, 44, 8, 5}, {64, 0, 1, 1}, {0, 48, 1, 1}, {0, 0, -5, 8},
    {G_MAXINT, 0, 1, 1}, {1, 1, G_MAXINT, 1},
  };
  const GstVideoRectangle good = { 0, 0, 8, 8 };
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  SnPreprocessor *pre = sn_preprocessor_new (&info, cfg, NULL);
  const gsize len = tensor_len (cfg);
  float *out = g_new0 (float, 2 * len);
  GstVideoFrame frame;

  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstVideoRectangle two[2] = { good, bad[i] };
    fail_if (sn_preprocess_region_valid (pre, &bad[i]), "region %u", i);
    gboolean untouched = TRUE;

    ASSERT_CRITICAL (sn_preprocessor_run_regions (pre, &frame, two, 2, out));
    for (gsize k = 0; k < 2 * len; k++)
      untouched &= out[k] == 0.0f;
    fail_unless (untouched, "region %u: the output was written", i);
  }
  fail_unless (sn_preprocess_region_valid (pre, &good));
  sn_preprocessor_run_regions (pre, &frame, &good, 0, NULL);    /* nothing */
  gst_video_frame_unmap (&frame);
  sn_preprocessor_free (pre);
  gst_buffer_unref (buf);
  g_free (out);
}

GST_END_TEST;

GST_START_TEST (test_timing_1080p)
{
  if (ref_under_valgrind ())    /* no timing worth printing there */
    return;
  for (guint s = 0; s < G_N_ELEMENTS (isa_modes); s++) {
    if (!use_isa (isa_modes[s]))
      continue;
    time_format (GST_VIDEO_FORMAT_I420, SN_RESIZE_STRETCH, 1);
    time_format (GST_VIDEO_FORMAT_RGB, SN_RESIZE_STRETCH, 1);
    time_format (GST_VIDEO_FORMAT_I420, SN_RESIZE_CROP, 1);
    time_format (GST_VIDEO_FORMAT_I420, SN_RESIZE_STRETCH, 8);
    time_format (GST_VIDEO_FORMAT_RGB, SN_RESIZE_STRETCH, 8);
  }
  g_unsetenv ("SHUFFLENET_ISA");
}

GST_END_TEST;

static Suite *
preprocess_suite (void)
{
  Suite *s = suite_create ("snpreprocess");
  TCase *tc = tcase_create ("general");

  /* the reference sweep runs ~2300 cases; slow under valgrind */
  tcase_set_timeout (tc, 600);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats_vs_reference);
  tcase_add_test (tc, test_colorimetry_vs_reference);
  tcase_add_test (tc, test_threads_identical);
  tcase_add_test (tc, test_formats_consistent);
  tcase_add_test (tc, test_stretch_geometry);
  tcase_add_test (tc, test_crop_geometry);
  tcase_add_test (tc, test_letterbox_geometry);
  tcase_add_test (tc, test_channels_and_normalization);
  tcase_add_test (tc, test_colour_anchors);
  tcase_add_test (tc, test_bad_config_refused);
  tcase_add_test (tc, test_caps_list_formats);
  tcase_add_test (tc, test_wrong_frame_refused);
  tcase_add_test (tc, test_strides_per_frame);
  tcase_add_test (tc, test_regions_vs_reference);
  tcase_add_test (tc, test_region_equals_own_frame);
  tcase_add_test (tc, test_bad_regions_refused);
  tcase_add_test (tc, test_timing_1080p);
  return s;
}

GST_CHECK_MAIN (preprocess);
