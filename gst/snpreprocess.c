/* snpreprocess.c - fused frame -> tensor preprocessing (see snpreprocess.h
 * for the semantics).
 *
 * Layout of the work. A source "channel" is one of Y, U, V (YUV formats),
 * R, G, B (RGB formats) or Y (GRAY8). Channels that share a pixel stride
 * and subsampling share a column table and form a "group" (at most two:
 * luma and chroma, or one for RGB and GRAY8). For every tensor row the run
 * takes two source rows (top and bottom tap), resamples each horizontally
 * into a float row per channel (a "row pass", cached per group so a source
 * row is read once even when two tensor rows use it), then blends the two
 * float rows vertically, converts to RGB, clamps and normalizes straight
 * into the tensor (the "blend"). Only the two taps of each tensor column
 * are read from a source row: a 1080p frame costs 2 x 224 row passes of
 * 224 columns each.
 *
 * A row pass reads, per column and plane, one 8-byte word at the left tap
 * (scalar loads: it holds the right tap too, and every channel of a packed
 * pixel), then extracts channels and interpolates 4 or 8 columns at a time.
 * (AVX2 gathers were tried instead of the scalar loads: 2x slower on this
 * Xeon, where a gather costs ~22 cycles.) The kernels come in two flavours
 * chosen once in sn_preprocessor_new () by the engine's ISA decision
 * (sn_isa_name (), which SHUFFLENET_ISA steers): plain C for any CPU (SSE2
 * on x86-64), and the same code compiled for AVX2 + FMA with an AVX2 blend.
 * The tests run both. */
#include "snpreprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shufflenet.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SN_HAVE_AVX2 1
#include <immintrin.h>
#else
#define SN_HAVE_AVX2 0
#endif

#ifdef __GNUC__
#define SN_ALWAYS_INLINE inline __attribute__ ((always_inline))
#else
#define SN_ALWAYS_INLINE inline
#endif

GST_DEBUG_CATEGORY_STATIC (sn_preprocess_debug);
#define GST_CAT_DEFAULT sn_preprocess_debug

G_DEFINE_QUARK (sn-preprocess-error-quark, sn_preprocess_error);

#define MAX_GROUPS 2

/* Channels that share a column table: their plane layout, fixed by the
 * format. */
typedef struct
{
  int n_ch;                     /* channels in this group: 1..3 */
  int plane[3];                 /* frame plane of each channel */
  int poffset[3];               /* byte offset of each channel in a pixel */
  int pstride;                  /* bytes from one pixel to the next */
  int h_shift, v_shift;         /* plane column / row = frame's >> shift */
  gint64 row_bytes;             /* bytes of a plane row (the shortest of the
                                   group's planes) */
} SnGroup;

/* A group's column taps for one geometry. */
typedef struct
{
  gint32 *off0, *off1;          /* [aw] byte offset in a plane row of the
                                   left / right tap of each active column */
  guint8 *sh1;                  /* [aw] bit shift of the right tap's word
                                   in the 8 bytes read at the left tap:
                                   8 * (off1 - off0), 0..32 */
  int n_fast;                   /* leading columns whose 8 bytes at off0
                                   lie inside the row (word path) */
} SnGroupTaps;

/* How one source rectangle of the frame (the whole frame, or a region)
 * maps onto the tensor. Arrays have room for the tensor's width (columns)
 * and height (rows): the active window never exceeds the tensor. */
typedef struct
{
  /* Active window of the tensor: columns [x0, x0 + aw), rows [y0, y0 + ah).
   * Outside it (letterbox bars) the tensor is 0. */
  int x0, aw, y0, ah;
  float *fx;                    /* [aw] weight of the right tap */
  int *xi0, *xi1;               /* [aw] frame columns of the two taps */
  int *row_top, *row_bot;       /* [ah] frame rows of the two taps */
  float *fy;                    /* [ah] weight of the bottom tap */
  SnGroupTaps taps[MAX_GROUPS];
} SnGeometry;

/* What a run writes while it works, per group: one copy per thread
 * (a thread computes a band of tensor rows with its own copy). */
typedef struct
{
  guint32 *w0, *w1;             /* [out_w] staging: the 4 bytes at each tap */
  float *rows;                  /* cache: [2 slots][n_ch][out_w] row passes */
  int key[2];                   /* plane row held by each slot, -1: none */
} SnGroupCache;

typedef struct
{
  SnGroupCache group[MAX_GROUPS];
  float *scratch;               /* [3][out_w] NHWC staging row */
  SnGeometry region;            /* the region this thread runs alone */
} SnWorkspace;

typedef struct _SnKernels SnKernels;

struct _SnPreprocessor
{
  GstVideoFormat format;
  int in_w, in_h;
  SnPreprocessConfig cfg;
  int n_in_ch;                  /* 3, or 1 for GRAY8 */
  const SnKernels *kernels;

  int n_groups;
  SnGroup group[MAX_GROUPS];
  int ch_group[3], ch_index[3]; /* where source channel c lives */
  SnGeometry frame;             /* the whole frame */
  SnGeometry region;            /* a region run in bands by all threads */

  /* Tensor channel k before clamping, in 0..255 units:
   * mat[k][0] * c0 + mat[k][1] * c1 + mat[k][2] * c2 + mat[k][3]
   * (c0..c2 the blended source channels; for GRAY8 c1 = c2 = c0). */
  float mat[3][4];
  float mul[3], add[3];         /* tensor = clamped * mul[k] + add[k] */
  int n_threads;                /* bands of tensor rows run in parallel */
  SnWorkspace *ws;              /* [n_threads] */
  SnParallelFor parallel_for;   /* runs the bands; NULL: OpenMP */
  gpointer pool;
};

/* Three rows of n floats each, one per source channel (or tensor channel
 * for the output of a blend). */
typedef struct
{
  const float *c[3];
} SnRows3;

struct _SnKernels
{
  const char *name;
  /* Row pass of group g with column taps t over plane rows prow[c] (row
   * start, channel c's plane) into dst [n_ch][n]. */
  void (*row_pass) (const SnGroup * g, const SnGroupTaps * t,
      SnGroupCache * gc, const guint8 * const *prow, const float *fx, int n,
      float *dst);
  /* Blend + colour + normalize: rows a, b -> o[3] rows of n floats. */
  void (*blend) (const SnPreprocessor * pre, const SnRows3 * a,
      const SnRows3 * b, float wy, int n, float *const *o);
};

/* The formats of SN_PREPROCESS_FORMATS (the pad templates' list: the one
 * place they are named), parsed once. */
gboolean
sn_preprocess_format_supported (GstVideoFormat format)
{
  static gsize once = 0;
  static GstVideoFormat supported[64];
  static guint n_supported;

  if (g_once_init_enter (&once)) {
    GstCaps *caps = gst_caps_from_string (SN_PREPROCESS_VIDEO_CAPS);
    const GValue *list = gst_structure_get_value (gst_caps_get_structure (caps,
            0), "format");

    for (guint i = 0; i < gst_value_list_get_size (list)
        && n_supported < G_N_ELEMENTS (supported); i++)
      supported[n_supported++] = gst_video_format_from_string
          (g_value_get_string (gst_value_list_get_value (list, i)));
    gst_caps_unref (caps);
    g_once_init_leave (&once, 1);
  }
  for (guint i = 0; i < n_supported; i++)
    if (supported[i] == format && format != GST_VIDEO_FORMAT_UNKNOWN)
      return TRUE;
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static gboolean
check_config (const GstVideoInfo * info, const SnPreprocessConfig * c,
    GError ** error)
{
  GstVideoFormat fmt = GST_VIDEO_INFO_FORMAT (info);
  int w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);

  if (!sn_preprocess_format_supported (fmt)) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_FORMAT,
        "video format %s is not supported (supported: %s)",
        gst_video_format_to_string (fmt), SN_PREPROCESS_FORMATS);
    return FALSE;
  }
  if (GST_VIDEO_INFO_INTERLACE_MODE (info) ==
      GST_VIDEO_INTERLACE_MODE_ALTERNATE) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_FORMAT,
        "interlace-mode alternate (one field per buffer) is not supported");
    return FALSE;
  }
  if (w <= 0 || h <= 0 || w > SN_PREPROCESS_MAX_IN_SIDE
      || h > SN_PREPROCESS_MAX_IN_SIDE) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_SIZE,
        "frame size %dx%d is out of range (1..%d per side)", w, h,
        SN_PREPROCESS_MAX_IN_SIDE);
    return FALSE;
  }
  if (c->out_width <= 0 || c->out_height <= 0
      || c->out_width > SN_PREPROCESS_MAX_OUT_SIDE
      || c->out_height > SN_PREPROCESS_MAX_OUT_SIDE) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_SIZE,
        "tensor size %dx%d is out of range (1..%d per side)", c->out_width,
        c->out_height, SN_PREPROCESS_MAX_OUT_SIDE);
    return FALSE;
  }
  if (c->channel_order != SN_CHANNEL_ORDER_RGB
      && c->channel_order != SN_CHANNEL_ORDER_BGR) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
        "channel order %d is not one of RGB (0) or BGR (1)",
        (int) c->channel_order);
    return FALSE;
  }
  if (c->resize != SN_RESIZE_STRETCH && c->resize != SN_RESIZE_CROP
      && c->resize != SN_RESIZE_LETTERBOX) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
        "resize mode %d is not one of stretch (0), crop (1), letterbox (2)",
        (int) c->resize);
    return FALSE;
  }
  if (c->short_side < 0 || c->short_side > SN_PREPROCESS_MAX_IN_SIDE) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
        "short side %d is out of range (0 = derive, or 1..%d)",
        c->short_side, SN_PREPROCESS_MAX_IN_SIDE);
    return FALSE;
  }
  if (!isfinite (c->scale)) {
    g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
        "scale %g is not a finite number", c->scale);
    return FALSE;
  }
  for (int k = 0; k < 3; k++) {
    if (!isfinite (c->mean[k])) {
      g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
          "mean[%d] = %g is not a finite number", k, c->mean[k]);
      return FALSE;
    }
    if (!isfinite (c->std[k]) || c->std[k] == 0.0f) {
      g_set_error (error, SN_PREPROCESS_ERROR, SN_PREPROCESS_ERROR_CONFIG,
          "std[%d] = %g must be a finite non-zero number", k, c->std[k]);
      return FALSE;
    }
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Geometry                                                            */

/* Python's round () of d / 2 for an integer d: half to even. */
static int
half_round_even (int d)
{
  int q = d >= 0 ? d / 2 : -((-d) / 2);
  if (d % 2 != 0 && q % 2 != 0)
    q += d > 0 ? 1 : -1;
  return q;
}

static int
round_half_up (double v)
{
  return (int) floor (v + 0.5);
}

/* Sets the resized image size (*rw x *rh) and its position in the tensor
 * (*left, *top: negative when cropping). */
static void
compute_geometry (int w, int h, const SnPreprocessConfig * c, int *rw,
    int *rh, int *left, int *top)
{
  int ow = c->out_width, oh = c->out_height;

  switch (c->resize) {
    case SN_RESIZE_STRETCH:
    default:
      *rw = ow;
      *rh = oh;
      *left = *top = 0;
      break;
    case SN_RESIZE_CROP:{
      int s = c->short_side > 0 ? c->short_side
          : round_half_up (MIN (ow, oh) * 256.0 / 224.0);
      if (w <= h) {
        *rw = s;
        *rh = round_half_up ((double) s * h / w);
      } else {
        *rh = s;
        *rw = round_half_up ((double) s * w / h);
      }
      if (*rw < ow || *rh < oh) {
        /* grow to the smallest scale that covers the tensor */
        double k = MAX ((double) ow / w, (double) oh / h);
        *rw = MAX (ow, round_half_up (w * k));
        *rh = MAX (oh, round_half_up (h * k));
      }
      *left = -half_round_even (*rw - ow);
      *top = -half_round_even (*rh - oh);
      break;
    }
    case SN_RESIZE_LETTERBOX:{
      double k = MIN ((double) ow / w, (double) oh / h);
      *rw = CLAMP (round_half_up (w * k), 1, ow);
      *rh = CLAMP (round_half_up (h * k), 1, oh);
      *left = (ow - *rw) / 2;
      *top = (oh - *rh) / 2;
      break;
    }
  }
}

/* One axis: for n tensor positions starting at tensor index first, the
 * source taps i0 (lower) and i1 = i0 + 1 (or 0 when the source is one
 * pixel wide) and the weight f of i1. A position past the last pixel is
 * expressed as i0 = size - 2, f = 1 so that i1 stays inside the image. */
static void
axis_table (int size, int resized, int offset, int first, int n, int *i0,
    int *i1, float *f)
{
  double step = (double) size / resized;

  for (int k = 0; k < n; k++) {
    double u = (first + k - offset + 0.5) * step - 0.5;
    int x;
    double wgt;

    u = CLAMP (u, 0.0, (double) (size - 1));
    x = (int) floor (u);
    wgt = u - x;
    if (size == 1) {
      x = 0;
      wgt = 0.0;
    } else if (x >= size - 1) {
      x = size - 2;
      wgt = 1.0;
    }
    i0[k] = x;
    i1[k] = size == 1 ? 0 : x + 1;
    f[k] = (float) wgt;
  }
}

/* ------------------------------------------------------------------ */
/* Colour                                                              */

/* rgb[r][0..3]: colour r (R, G, B) in 0..255 units as an affine function
 * of the source channels (c0, c1, c2). */
static void
colour_matrix (const GstVideoInfo * info, double rgb[3][4])
{
  const GstVideoFormatInfo *finfo = info->finfo;
  GstVideoColorimetry cm = info->colorimetry;
  gint off[GST_VIDEO_MAX_COMPONENTS], sc[GST_VIDEO_MAX_COMPONENTS];
  double kr, kb, kg;

  memset (rgb, 0, sizeof (double) * 12);
  if (GST_VIDEO_FORMAT_INFO_IS_YUV (finfo)
      && cm.range == GST_VIDEO_COLOR_RANGE_UNKNOWN)
    cm.range = GST_VIDEO_COLOR_RANGE_16_235;
  gst_video_color_range_offsets (cm.range, finfo, off, sc);

  if (!GST_VIDEO_FORMAT_INFO_IS_YUV (finfo)) {
    /* RGB: per channel (v - off) * 255 / scale; GRAY8: Y into all three */
    for (int r = 0; r < 3; r++) {
      int c = GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo) ? 0 : r;
      rgb[r][c] = 255.0 / sc[c];
      rgb[r][3] = -off[c] * 255.0 / sc[c];
    }
    return;
  }

  if (!gst_video_color_matrix_get_Kr_Kb (cm.matrix, &kr, &kb)) {
    GST_INFO ("no YUV matrix in colorimetry (%d), using BT.601", cm.matrix);
    gst_video_color_matrix_get_Kr_Kb (GST_VIDEO_COLOR_MATRIX_BT601, &kr, &kb);
  }
  kg = 1.0 - kr - kb;
  {
    /* E'y = (Y - oy) / sy, Pb = (U - oc) / sc, Pr = (V - oc) / sc */
    double ky = 255.0 / sc[0], kc = 255.0 / sc[1];
    double r_v = 2.0 * (1.0 - kr), b_u = 2.0 * (1.0 - kb);
    double g_u = -2.0 * kb * (1.0 - kb) / kg, g_v = -2.0 * kr * (1.0 - kr) / kg;
    double cy[3] = { ky, ky, ky }, cu[3] = { 0.0, g_u * kc, b_u * kc };
    double cv[3] = { r_v * kc, g_v * kc, 0.0 };

    for (int r = 0; r < 3; r++) {
      rgb[r][0] = cy[r];
      rgb[r][1] = cu[r];
      rgb[r][2] = cv[r];
      rgb[r][3] = -cy[r] * off[0] - (cu[r] + cv[r]) * off[1];
    }
  }
}

static void
setup_colour (SnPreprocessor * pre, const GstVideoInfo * info)
{
  const SnPreprocessConfig *c = &pre->cfg;
  double rgb[3][4];

  colour_matrix (info, rgb);
  for (int k = 0; k < 3; k++) {
    int r = c->channel_order == SN_CHANNEL_ORDER_RGB ? k : 2 - k;
    for (int i = 0; i < 4; i++)
      pre->mat[k][i] = (float) rgb[r][i];
    pre->mul[k] = (float) ((double) c->scale / c->std[k]);
    pre->add[k] = (float) (-(double) c->mean[k] / c->std[k]);
  }
}

/* ------------------------------------------------------------------ */
/* Kernels                                                             */

/* One channel of a row pass over columns [j0, j1) reading single bytes:
 * src is the channel's byte in the row's first pixel, dst the channel's
 * float row. Used where the word path would read past the row. */
static void
row_pass_bytes (const guint8 * restrict src, const gint32 * restrict off0,
    const gint32 * restrict off1, const float *restrict fx, int j0, int j1,
    float *restrict dst)
{
  for (int j = j0; j < j1; j++) {
    float p = src[off0[j]], q = src[off1[j]];
    dst[j] = p + fx[j] * (q - p);
  }
}

/* Word path, step 1 (scalar loads): for columns [0, n) the 4 bytes at the
 * left tap (w0) and at the right tap (w1), both taken from one 8-byte
 * read at the left tap (the right tap is 0..4 bytes further). Little
 * endian: byte k of a word is bits 8k..8k+7. */
static inline void
stage_words (const guint8 * restrict row, const gint32 * restrict off0,
    const guint8 * restrict sh1, int n, guint32 * restrict w0,
    guint32 * restrict w1)
{
  for (int j = 0; j < n; j++) {
    guint64 q;

    memcpy (&q, row + off0[j], sizeof (q));
    w0[j] = (guint32) q;
    w1[j] = (guint32) (q >> sh1[j]);
  }
}

/* Word path, step 2 (vectorizes): the channel at bit shift s of the staged
 * words, blended with the right tap's weight fx, into dst [n]. */
static inline void
lerp_words (const guint32 * restrict w0, const guint32 * restrict w1, int s,
    const float *restrict fx, int n, float *restrict dst)
{
  for (int j = 0; j < n; j++) {
    float p = (float) (int) ((w0[j] >> s) & 0xff);
    float q = (float) (int) ((w1[j] >> s) & 0xff);
    dst[j] = p + fx[j] * (q - p);
  }
}

/* Row pass of group g with column taps t: prow[c] is the start of the
 * plane row holding channel c; dst is [n_ch][n]. Columns [0, n_fast) take
 * the word path, one staging per plane shared by that plane's channels;
 * the rest read bytes. Inlined into each kernel flavour so each compiles
 * for its ISA. */
static SN_ALWAYS_INLINE void
row_pass_body (const SnGroup * g, const SnGroupTaps * t, SnGroupCache * gc,
    const guint8 * const *prow, const float *fx, int n, float *dst)
{
  for (int c = 0; c < g->n_ch; c++) {
    float *d = dst + (gsize) c * n;

    if (c == 0 || prow[c] != prow[c - 1])
      stage_words (prow[c], t->off0, t->sh1, t->n_fast, gc->w0, gc->w1);
    lerp_words (gc->w0, gc->w1, 8 * g->poffset[c], fx, t->n_fast, d);
    row_pass_bytes (prow[c] + g->poffset[c], t->off0, t->off1, fx,
        t->n_fast, n, d);
  }
}

static void
row_pass_c (const SnGroup * g, const SnGroupTaps * t, SnGroupCache * gc,
    const guint8 * const *prow, const float *fx, int n, float *dst)
{
  row_pass_body (g, t, gc, prow, fx, n, dst);
}

/* Blends rows a0..a2 / b0..b2 (n floats each, the three source channels)
 * with weight wy of b, converts, clamps and normalizes into rows o0..o2 of
 * n floats (tensor channels 0..2). restrict parameters and constants in
 * locals let the compiler vectorize it. */
static void
blend_planar (const SnPreprocessor * pre, const float *restrict a0,
    const float *restrict a1, const float *restrict a2,
    const float *restrict b0, const float *restrict b1,
    const float *restrict b2, float wy, int n, float *restrict o0,
    float *restrict o1, float *restrict o2)
{
  const float m00 = pre->mat[0][0], m01 = pre->mat[0][1], m02 = pre->mat[0][2];
  const float m10 = pre->mat[1][0], m11 = pre->mat[1][1], m12 = pre->mat[1][2];
  const float m20 = pre->mat[2][0], m21 = pre->mat[2][1], m22 = pre->mat[2][2];
  const float m03 = pre->mat[0][3], m13 = pre->mat[1][3], m23 = pre->mat[2][3];
  const float k0 = pre->mul[0], k1 = pre->mul[1], k2 = pre->mul[2];
  const float d0 = pre->add[0], d1 = pre->add[1], d2 = pre->add[2];

  for (int j = 0; j < n; j++) {
    float c0 = a0[j] + wy * (b0[j] - a0[j]);
    float c1 = a1[j] + wy * (b1[j] - a1[j]);
    float c2 = a2[j] + wy * (b2[j] - a2[j]);
    float v0 = m00 * c0 + m01 * c1 + m02 * c2 + m03;
    float v1 = m10 * c0 + m11 * c1 + m12 * c2 + m13;
    float v2 = m20 * c0 + m21 * c1 + m22 * c2 + m23;
    v0 = v0 > 0.0f ? v0 : 0.0f;
    v1 = v1 > 0.0f ? v1 : 0.0f;
    v2 = v2 > 0.0f ? v2 : 0.0f;
    v0 = v0 < 255.0f ? v0 : 255.0f;
    v1 = v1 < 255.0f ? v1 : 255.0f;
    v2 = v2 < 255.0f ? v2 : 255.0f;
    o0[j] = v0 * k0 + d0;
    o1[j] = v1 * k1 + d1;
    o2[j] = v2 * k2 + d2;
  }
}

static void
blend_c (const SnPreprocessor * pre, const SnRows3 * a, const SnRows3 * b,
    float wy, int n, float *const *o)
{
  blend_planar (pre, a->c[0], a->c[1], a->c[2], b->c[0], b->c[1], b->c[2],
      wy, n, o[0], o[1], o[2]);
}

static const SnKernels kernels_c = { "c", row_pass_c, blend_c };

#if SN_HAVE_AVX2
#define SN_AVX2 __attribute__ ((target ("avx2,fma")))

/* The same row pass compiled for AVX2 (8 columns per step in lerp_words). */
SN_AVX2 static void
row_pass_avx2 (const SnGroup * g, const SnGroupTaps * t, SnGroupCache * gc,
    const guint8 * const *prow, const float *fx, int n, float *dst)
{
  row_pass_body (g, t, gc, prow, fx, n, dst);
}

SN_AVX2 static void
blend_avx2 (const SnPreprocessor * pre, const SnRows3 * a, const SnRows3 * b,
    float wy, int n, float *const *o)
{
  const __m256 w = _mm256_set1_ps (wy), zero = _mm256_setzero_ps ();
  const __m256 top = _mm256_set1_ps (255.0f);
  __m256 m[3][4], mul[3], add[3];
  int j;

  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 4; i++)
      m[k][i] = _mm256_set1_ps (pre->mat[k][i]);
    mul[k] = _mm256_set1_ps (pre->mul[k]);
    add[k] = _mm256_set1_ps (pre->add[k]);
  }
  for (j = 0; j + 8 <= n; j += 8) {
    __m256 c[3];

    for (int i = 0; i < 3; i++) {
      __m256 av = _mm256_loadu_ps (a->c[i] + j);
      __m256 bv = _mm256_loadu_ps (b->c[i] + j);
      c[i] = _mm256_fmadd_ps (w, _mm256_sub_ps (bv, av), av);
    }
    for (int k = 0; k < 3; k++) {
      __m256 v = _mm256_fmadd_ps (m[k][0], c[0], _mm256_fmadd_ps (m[k][1],
              c[1], _mm256_fmadd_ps (m[k][2], c[2], m[k][3])));
      v = _mm256_min_ps (_mm256_max_ps (v, zero), top);
      _mm256_storeu_ps (o[k] + j, _mm256_fmadd_ps (v, mul[k], add[k]));
    }
  }
  if (j < n)
    blend_planar (pre, a->c[0] + j, a->c[1] + j, a->c[2] + j, b->c[0] + j,
        b->c[1] + j, b->c[2] + j, wy, n - j, o[0] + j, o[1] + j, o[2] + j);
}

static const SnKernels kernels_avx2 = { "avx2", row_pass_avx2, blend_avx2 };
#endif

/* The engine's ISA decision (sn_isa_name (): the best this CPU runs, or
 * SHUFFLENET_ISA): plain C for "ref", the AVX2 + FMA flavour for avx2 and
 * avx512 (which this pass gains nothing from: it is bound by its scattered
 * loads). */
static const SnKernels *
choose_kernels (void)
{
#if SN_HAVE_AVX2
  if (strcmp (sn_isa_name (), "ref") != 0)
    return &kernels_avx2;
#endif
  return &kernels_c;
}

/* ------------------------------------------------------------------ */
/* Construction                                                        */

/* Leading columns whose 8 bytes at the left tap lie inside a row of
 * row_bytes bytes (the word path's read); none on big-endian hosts. */
static int
count_fast_columns (const gint32 * off0, int n, gint64 row_bytes)
{
  int j = 0;

  if (G_BYTE_ORDER != G_LITTLE_ENDIAN)
    return 0;
  while (j < n && off0[j] + 8 <= row_bytes)
    j++;
  return j;
}

/* Puts source channels into groups by (pixel stride, subsampling): their
 * plane layout, which the format fixes. */
static void
setup_groups (SnPreprocessor * pre, const GstVideoInfo * info)
{
  const GstVideoFormatInfo *finfo = info->finfo;

  pre->n_groups = 0;
  for (int c = 0; c < pre->n_in_ch; c++) {
    int cps = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, c);
    int chs = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, c);
    int cvs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, c);
    gint64 bytes = (gint64) GST_VIDEO_INFO_COMP_WIDTH (info, c) * cps;
    int g;
    SnGroup *grp;

    for (g = 0; g < pre->n_groups; g++) {
      grp = &pre->group[g];
      if (grp->pstride == cps && grp->h_shift == chs && grp->v_shift == cvs)
        break;
    }
    g_assert (g < MAX_GROUPS);
    grp = &pre->group[g];
    if (g == pre->n_groups) {
      pre->n_groups++;
      grp->pstride = cps;
      grp->h_shift = chs;
      grp->v_shift = cvs;
      grp->row_bytes = bytes;
      grp->n_ch = 0;
    }
    /* the word path: a 4-byte word at a tap holds the channel's byte, the
     * right tap is at most 4 bytes after the left one */
    g_assert (GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c) < 4 && cps <= 4);
    grp->row_bytes = MIN (grp->row_bytes, bytes);
    grp->plane[grp->n_ch] = GST_VIDEO_FORMAT_INFO_PLANE (finfo, c);
    grp->poffset[grp->n_ch] = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c);
    pre->ch_group[c] = g;
    pre->ch_index[c] = grp->n_ch++;
  }
}

/* Room for a geometry of the configured tensor. */
static void
geometry_alloc (SnGeometry * geo, const SnPreprocessor * pre)
{
  const int ow = pre->cfg.out_width, oh = pre->cfg.out_height;

  geo->fx = g_new (float, ow);
  geo->xi0 = g_new (int, ow);
  geo->xi1 = g_new (int, ow);
  geo->row_top = g_new (int, oh);
  geo->row_bot = g_new (int, oh);
  geo->fy = g_new (float, oh);
  for (int g = 0; g < pre->n_groups; g++) {
    geo->taps[g].off0 = g_new (gint32, ow);
    geo->taps[g].off1 = g_new (gint32, ow);
    geo->taps[g].sh1 = g_new (guint8, ow);
  }
}

static void
geometry_clear (SnGeometry * geo)
{
  g_free (geo->fx);
  g_free (geo->xi0);
  g_free (geo->xi1);
  g_free (geo->row_top);
  g_free (geo->row_bot);
  g_free (geo->fy);
  for (int g = 0; g < MAX_GROUPS; g++) {
    g_free (geo->taps[g].off0);
    g_free (geo->taps[g].off1);
    g_free (geo->taps[g].sh1);
  }
  memset (geo, 0, sizeof (*geo));
}

/* Fills @geo for the source rectangle @src of the frame (inside it, not
 * empty): the tensor window it covers and the frame taps of every tensor
 * column and row. The rectangle is resized as if it were a frame of its
 * own (the resize mode applies to its size; edge replication at its
 * borders), but its taps are frame coordinates, so chroma comes from the
 * sample covering each frame pixel whatever the rectangle's parity.
 * Allocates nothing. */
static void
geometry_build (const SnPreprocessor * pre, SnGeometry * geo,
    const GstVideoRectangle * src)
{
  const int ow = pre->cfg.out_width, oh = pre->cfg.out_height;
  int rw, rh, left, top;

  compute_geometry (src->w, src->h, &pre->cfg, &rw, &rh, &left, &top);
  geo->x0 = MAX (left, 0);
  geo->aw = MIN (left + rw, ow) - geo->x0;
  geo->y0 = MAX (top, 0);
  geo->ah = MIN (top + rh, oh) - geo->y0;

  axis_table (src->w, rw, left, geo->x0, geo->aw, geo->xi0, geo->xi1, geo->fx);
  axis_table (src->h, rh, top, geo->y0, geo->ah, geo->row_top, geo->row_bot,
      geo->fy);
  for (int j = 0; j < geo->aw; j++) {
    geo->xi0[j] += src->x;
    geo->xi1[j] += src->x;
  }
  for (int i = 0; i < geo->ah; i++) {
    geo->row_top[i] += src->y;
    geo->row_bot[i] += src->y;
  }
  for (int g = 0; g < pre->n_groups; g++) {
    const SnGroup *grp = &pre->group[g];
    SnGroupTaps *t = &geo->taps[g];

    for (int j = 0; j < geo->aw; j++) {
      t->off0[j] = (geo->xi0[j] >> grp->h_shift) * grp->pstride;
      t->off1[j] = (geo->xi1[j] >> grp->h_shift) * grp->pstride;
      t->sh1[j] = 8 * (t->off1[j] - t->off0[j]);
    }
    t->n_fast = count_fast_columns (t->off0, geo->aw, grp->row_bytes);
  }
}

SnPreprocessor *
sn_preprocessor_new (const GstVideoInfo * in_info,
    const SnPreprocessConfig * config, GError ** error)
{
  static gsize debug_once = 0;
  SnPreprocessor *pre;
  GstVideoRectangle whole;

  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (sn_preprocess_debug, "snpreprocess", 0,
        "shufflenet frame to tensor preprocessing");
    g_once_init_leave (&debug_once, 1);
  }
  g_return_val_if_fail (in_info != NULL && in_info->finfo != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!check_config (in_info, config, error))
    return NULL;

  pre = g_new0 (SnPreprocessor, 1);
  pre->format = GST_VIDEO_INFO_FORMAT (in_info);
  pre->in_w = GST_VIDEO_INFO_WIDTH (in_info);
  pre->in_h = GST_VIDEO_INFO_HEIGHT (in_info);
  pre->cfg = *config;
  pre->n_in_ch = GST_VIDEO_INFO_IS_GRAY (in_info) ? 1 : 3;
  pre->kernels = choose_kernels ();
  setup_groups (pre, in_info);
  setup_colour (pre, in_info);

  whole.x = whole.y = 0;
  whole.w = pre->in_w;
  whole.h = pre->in_h;
  geometry_alloc (&pre->frame, pre);
  geometry_alloc (&pre->region, pre);
  geometry_build (pre, &pre->frame, &whole);
  GST_DEBUG ("%s %dx%d -> tensor %dx%d, active %dx%d at (%d,%d), %s kernels",
      gst_video_format_to_string (pre->format), pre->in_w, pre->in_h,
      config->out_width, config->out_height, pre->frame.aw, pre->frame.ah,
      pre->frame.x0, pre->frame.y0, pre->kernels->name);
  sn_preprocessor_set_threads (pre, 1);
  return pre;
}

static void
free_workspaces (SnPreprocessor * pre)
{
  for (int t = 0; t < pre->n_threads; t++) {
    for (int g = 0; g < pre->n_groups; g++) {
      g_free (pre->ws[t].group[g].w0);
      g_free (pre->ws[t].group[g].w1);
      g_free (pre->ws[t].group[g].rows);
    }
    g_free (pre->ws[t].scratch);
    geometry_clear (&pre->ws[t].region);
  }
  g_free (pre->ws);
  pre->ws = NULL;
  pre->n_threads = 0;
}

void
sn_preprocessor_set_threads (SnPreprocessor * pre, int threads)
{
  const int ow = pre != NULL ? pre->cfg.out_width : 0;

  g_return_if_fail (pre != NULL);
  g_return_if_fail (threads >= 1 && threads <= SN_PREPROCESS_MAX_THREADS);
  if (threads == pre->n_threads)
    return;
  free_workspaces (pre);
  pre->ws = g_new0 (SnWorkspace, threads);
  for (int t = 0; t < threads; t++) {
    for (int g = 0; g < pre->n_groups; g++) {
      SnGroupCache *gc = &pre->ws[t].group[g];
      gc->w0 = g_new (guint32, ow);
      gc->w1 = g_new (guint32, ow);
      gc->rows = g_new (float, (gsize) 2 * pre->group[g].n_ch * ow);
    }
    pre->ws[t].scratch = g_new (float, (gsize) 3 * ow);
    geometry_alloc (&pre->ws[t].region, pre);
  }
  pre->n_threads = threads;
}

void
sn_preprocessor_free (SnPreprocessor * pre)
{
  if (pre == NULL)
    return;
  free_workspaces (pre);
  geometry_clear (&pre->frame);
  geometry_clear (&pre->region);
  g_free (pre);
}

gsize
sn_preprocessor_get_tensor_size (const SnPreprocessor * pre)
{
  g_return_val_if_fail (pre != NULL, 0);
  return (gsize) 3 * pre->cfg.out_width * pre->cfg.out_height;
}

/* ------------------------------------------------------------------ */
/* Per frame                                                           */

/* Returns the [n_ch][aw] row pass of plane row prow of group g (taps t),
 * from the thread's cache gc or computed into the slot not holding plane
 * row keep. */
static const float *
group_row (const SnPreprocessor * pre, const SnGeometry * geo, int g,
    SnGroupCache * gc, const GstVideoFrame * frame, int prow, int keep)
{
  const SnGroup *grp = &pre->group[g];
  const gsize slot_size = (gsize) grp->n_ch * geo->aw;
  const guint8 *rowp[3];
  int slot;

  if (gc->key[0] == prow)
    return gc->rows;
  if (gc->key[1] == prow)
    return gc->rows + slot_size;
  slot = gc->key[0] == keep ? 1 : 0;
  for (int c = 0; c < grp->n_ch; c++) {
    const guint8 *plane = GST_VIDEO_FRAME_PLANE_DATA (frame, grp->plane[c]);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, grp->plane[c]);
    rowp[c] = plane + (gssize) prow * stride;
  }
  pre->kernels->row_pass (grp, &geo->taps[g], gc, rowp, geo->fx, geo->aw,
      gc->rows + slot * slot_size);
  gc->key[slot] = prow;
  return gc->rows + slot * slot_size;
}

/* Asks for the cache lines that group g's row pass of plane row prow will
 * read: each of its planes' bytes from the first column's left tap to the
 * last column's word (prefetches do not fault, so the span need not lie
 * inside the frame). Issued a tensor row ahead: a frame that comes cold
 * from memory has its next rows' loads under way while this row computes
 * (a row pass's scattered loads otherwise wait on memory one cache line at
 * a time). Inlined: GCC takes a function that only prefetches for one
 * without side effects and drops the call. */
static SN_ALWAYS_INLINE void
prefetch_group_row (const SnPreprocessor * pre, const SnGeometry * geo,
    int g, const GstVideoFrame * frame, int prow)
{
  const SnGroup *grp = &pre->group[g];
  const gint32 first = geo->taps[g].off0[0];
  const gint32 last = geo->taps[g].off1[geo->aw - 1] + 8;

  for (int c = 0; c < grp->n_ch; c++) {
    const guint8 *plane, *row;

    if (c > 0 && grp->plane[c] == grp->plane[c - 1])
      continue;                 /* packed: the channels share the plane */
    plane = GST_VIDEO_FRAME_PLANE_DATA (frame, grp->plane[c]);
    row = plane + (gssize) prow * GST_VIDEO_FRAME_PLANE_STRIDE (frame,
        grp->plane[c]);
    for (gint32 b = first; b < last; b += 64)
      __builtin_prefetch (row + b, 0, 0);
    __builtin_prefetch (row + last - 1, 0, 0);
  }
}

/* Interleaves three rows of n floats into n * 3 floats. */
static void
interleave3 (const float *restrict s0, const float *restrict s1,
    const float *restrict s2, int n, float *restrict dst)
{
  for (int j = 0; j < n; j++) {
    dst[3 * j] = s0[j];
    dst[3 * j + 1] = s1[j];
    dst[3 * j + 2] = s2[j];
  }
}

/* Tensor row i from the row passes a (top) and b (bottom): planar straight
 * into the tensor, NHWC through the thread's [3][aw] scratch, then
 * interleaved. */
static void
blend_row (const SnPreprocessor * pre, const SnGeometry * geo,
    float *scratch, const SnRows3 * a, const SnRows3 * b, float wy, int i,
    float *out)
{
  const int n = geo->aw, ow = pre->cfg.out_width, oh = pre->cfg.out_height;
  float *o[3];

  for (int k = 0; k < 3; k++) {
    if (pre->cfg.out_nhwc)
      o[k] = scratch + (gsize) k * n;
    else                        /* [3][H][W]: (k * H + i) * W + j */
      o[k] = out + ((gsize) k * oh + i) * ow + geo->x0;
  }
  pre->kernels->blend (pre, a, b, wy, n, o);
  if (pre->cfg.out_nhwc)        /* [H][W][3]: (i * W + j) * 3 + k */
    interleave3 (o[0], o[1], o[2], n, out + ((gsize) i * ow + geo->x0) * 3);
}

/* Zeroes tensor columns [j0, j1) of rows [i0, i1). */
static void
zero_block (const SnPreprocessor * pre, float *out, int i0, int i1, int j0,
    int j1)
{
  const int ow = pre->cfg.out_width, oh = pre->cfg.out_height;
  const gsize n = j1 - j0;

  if (i0 >= i1 || j0 >= j1)
    return;
  for (int i = i0; i < i1; i++) {
    if (pre->cfg.out_nhwc) {
      memset (out + ((gsize) i * ow + j0) * 3, 0, sizeof (float) * 3 * n);
    } else {
      for (int k = 0; k < 3; k++)
        memset (out + ((gsize) k * oh + i) * ow + j0, 0, sizeof (float) * n);
    }
  }
}

/* The tensor outside geometry geo's active window (letterbox bars). */
static void
zero_bars (const SnPreprocessor * pre, const SnGeometry * geo, float *out)
{
  const int ow = pre->cfg.out_width, oh = pre->cfg.out_height;
  const int y1 = geo->y0 + geo->ah, x1 = geo->x0 + geo->aw;

  zero_block (pre, out, 0, geo->y0, 0, ow);
  zero_block (pre, out, y1, oh, 0, ow);
  zero_block (pre, out, geo->y0, y1, 0, geo->x0);
  zero_block (pre, out, geo->y0, y1, x1, ow);
}

/* Active tensor rows [r0, r1) of geometry geo with workspace ws. */
static void
run_rows (const SnPreprocessor * pre, const SnGeometry * geo,
    SnWorkspace * ws, const GstVideoFrame * frame, float *out, int r0, int r1)
{
  for (int g = 0; g < pre->n_groups; g++)
    ws->group[g].key[0] = ws->group[g].key[1] = -1;

  for (int r = r0; r < r1; r++) {
    const float *ga[MAX_GROUPS], *gb[MAX_GROUPS];
    SnRows3 a, b;

    for (int g = 0; g < pre->n_groups; g++) {
      const int vs = pre->group[g].v_shift;
      int pa = geo->row_top[r] >> vs, pb = geo->row_bot[r] >> vs;
      if (r + 1 < r1) {
        prefetch_group_row (pre, geo, g, frame, geo->row_top[r + 1] >> vs);
        prefetch_group_row (pre, geo, g, frame, geo->row_bot[r + 1] >> vs);
      }
      ga[g] = group_row (pre, geo, g, &ws->group[g], frame, pa, pb);
      gb[g] = group_row (pre, geo, g, &ws->group[g], frame, pb, pa);
    }
    for (int c = 0; c < 3; c++) {
      int cc = c < pre->n_in_ch ? c : 0;        /* GRAY8: c1 = c2 = c0 */
      gsize at = (gsize) pre->ch_index[cc] * geo->aw;
      a.c[c] = ga[pre->ch_group[cc]] + at;
      b.c[c] = gb[pre->ch_group[cc]] + at;
    }
    blend_row (pre, geo, ws->scratch, &a, &b, geo->fy[r], geo->y0 + r, out);
  }
}

void
sn_preprocessor_set_parallel (SnPreprocessor * pre,
    SnParallelFor parallel_for, gpointer pool)
{
  g_return_if_fail (pre != NULL);
  pre->parallel_for = parallel_for;
  pre->pool = pool;
}

/* body (data, t) for t in [0, n_threads), on the threads the caller named
 * (sn_preprocessor_set_parallel) or OpenMP's. */
static void
for_each_thread (SnPreprocessor * pre, void (*body) (void *data, int t),
    void *data)
{
  if (pre->n_threads == 1)
    body (data, 0);
  else if (pre->parallel_for)
    pre->parallel_for (pre->pool, pre->n_threads, body, data);
  else {
#pragma omp parallel for num_threads(pre->n_threads) schedule(static)
    for (int t = 0; t < pre->n_threads; t++)
      body (data, t);
  }
}

/* One source rectangle in bands of active rows, one per thread, each with
 * its own workspace. */
typedef struct
{
  SnPreprocessor *pre;
  const SnGeometry *geo;
  const GstVideoFrame *frame;
  float *out;
} SnBands;

static void
run_band (void *data, int t)
{
  const SnBands *b = data;
  SnPreprocessor *pre = b->pre;
  const int ah = b->geo->ah;

  run_rows (pre, b->geo, &pre->ws[t], b->frame, b->out,
      (int) ((gint64) t * ah / pre->n_threads),
      (int) ((gint64) (t + 1) * ah / pre->n_threads));
}

static void
run_in_bands (SnPreprocessor * pre, const SnGeometry * geo,
    const GstVideoFrame * frame, float *out)
{
  SnBands bands = { pre, geo, frame, out };

  for_each_thread (pre, run_band, &bands);
  zero_bars (pre, geo, out);
}

static gboolean
frame_matches (const SnPreprocessor * pre, const GstVideoFrame * frame)
{
  g_return_val_if_fail (GST_VIDEO_FRAME_FORMAT (frame) == pre->format, FALSE);
  g_return_val_if_fail (GST_VIDEO_FRAME_WIDTH (frame) == pre->in_w, FALSE);
  g_return_val_if_fail (GST_VIDEO_FRAME_HEIGHT (frame) == pre->in_h, FALSE);
  return TRUE;
}

void
sn_preprocessor_run (SnPreprocessor * pre, const GstVideoFrame * frame,
    float *out)
{
  g_return_if_fail (pre != NULL && frame != NULL && out != NULL);
  if (!frame_matches (pre, frame))
    return;
  run_in_bands (pre, &pre->frame, frame, out);
}

gboolean
sn_preprocess_region_valid (const SnPreprocessor * pre,
    const GstVideoRectangle * r)
{
  g_return_val_if_fail (pre != NULL && r != NULL, FALSE);
  return r->x >= 0 && r->y >= 0 && r->w > 0 && r->h > 0
      && r->x < pre->in_w && r->y < pre->in_h
      && r->w <= pre->in_w - r->x && r->h <= pre->in_h - r->y;
}

/* Regions [first, first + n_threads): region first + t on thread t, its
 * geometry in the thread's workspace. */
typedef struct
{
  SnPreprocessor *pre;
  const GstVideoFrame *frame;
  const GstVideoRectangle *regions;
  float *out;                   /* [n][3 * out_h * out_w] */
  int first;
} SnRegionRound;

static void
run_region_alone (void *data, int t)
{
  const SnRegionRound *rr = data;
  SnPreprocessor *pre = rr->pre;
  SnWorkspace *ws = &pre->ws[t];
  const int i = rr->first + t;
  float *out = rr->out + (gsize) i * sn_preprocessor_get_tensor_size (pre);

  geometry_build (pre, &ws->region, &rr->regions[i]);
  run_rows (pre, &ws->region, ws, rr->frame, out, 0, ws->region.ah);
  zero_bars (pre, &ws->region, out);
}

void
sn_preprocessor_run_regions (SnPreprocessor * pre,
    const GstVideoFrame * frame, const GstVideoRectangle * regions, int n,
    float *out)
{
  const gsize size = pre != NULL ? sn_preprocessor_get_tensor_size (pre) : 0;
  int i = 0;

  g_return_if_fail (pre != NULL && frame != NULL && n >= 0);
  g_return_if_fail (n == 0 || (regions != NULL && out != NULL));
  if (!frame_matches (pre, frame))
    return;
  for (int k = 0; k < n; k++) {
    if (!sn_preprocess_region_valid (pre, &regions[k])) {
      g_critical ("sn_preprocessor_run_regions: region %d (%d,%d %dx%d) is "
          "not inside the %dx%d frame", k, regions[k].x, regions[k].y,
          regions[k].w, regions[k].h, pre->in_w, pre->in_h);
      return;
    }
  }

  /* Whole rounds of one region per thread; the rest one at a time, its
   * rows in bands over every thread. */
  for (; pre->n_threads > 1 && i + pre->n_threads <= n; i += pre->n_threads) {
    SnRegionRound round = { pre, frame, regions, out, i };
    for_each_thread (pre, run_region_alone, &round);
  }
  for (; i < n; i++) {
    geometry_build (pre, &pre->region, &regions[i]);
    run_in_bands (pre, &pre->region, frame, out + (gsize) i * size);
  }
}
