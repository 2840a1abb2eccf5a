/* fuzz_preprocess.c - libFuzzer target for gst/snpreprocess.c.
 *
 * The input bytes choose a raw format (those SN_PREPROCESS_FORMATS lists
 * and a few the preprocessor must refuse), a frame of 1..64 x 1..64 pixels, its plane
 * padding and stride alignment (gst_video_info_align (), as decoders lay
 * frames out), colorimetry, interlace mode and the whole
 * SnPreprocessConfig; the rest of the bytes are the pixels. Checked besides
 * ASan/UBSan/LSan, with GLib warnings and criticals fatal:
 *  - sn_preprocessor_new () returns a preprocessor, or NULL and an
 *    SN_PREPROCESS_ERROR with a message;
 *  - with sane normalization values every tensor value is written and
 *    finite;
 *  - the tensor does not depend on bytes outside the visible colour
 *    components (row padding, plane padding, alpha and x bytes): a second
 *    run with all of them inverted gives the same bits;
 *  - the plain C (SHUFFLENET_ISA=ref) and the AVX2 kernels (avx2, where
 *    the CPU has it; else both runs are plain C) agree within 0.02 pixel
 *    levels;
 *  - a region of interest (taken from the input too, often partly or
 *    wholly outside the frame) is valid exactly when it lies inside the
 *    frame; a valid one gives a finite tensor that depends on no byte
 *    outside the chroma and luma samples covering it (a run with every
 *    other byte inverted gives the same bits), the same on 1 and 3
 *    threads, and C and AVX2 agree as for the frame.
 * Built and run by tests/fuzz/run_fuzz.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snpreprocess.h"

/* The formats the preprocessor reads (SN_PREPROCESS_FORMATS, filled in at
 * start) and some it must refuse. */
static GstVideoFormat formats[64];
static guint n_formats;
static const GstVideoFormat refused[] = {
  GST_VIDEO_FORMAT_NV16, GST_VIDEO_FORMAT_Y444, GST_VIDEO_FORMAT_RGB16,
  GST_VIDEO_FORMAT_I420_10LE,
};

static void
list_formats (void)
{
  GstCaps *caps = gst_caps_from_string (SN_PREPROCESS_VIDEO_CAPS);
  const GValue *list = gst_structure_get_value (gst_caps_get_structure (caps,
          0), "format");

  for (guint i = 0; i < gst_value_list_get_size (list); i++)
    formats[n_formats++] = gst_video_format_from_string (g_value_get_string
        (gst_value_list_get_value (list, i)));
  gst_caps_unref (caps);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    formats[n_formats++] = refused[i];
}

/* Normalization values worth trying; a selector byte past the table takes
 * the next four input bytes as raw float bits (NaN, inf, denormals). */
static const float float_table[] = {
  1.0f / 255.0f, 1.0f, 0.0f, -1.0f, 0.5f, 2.0f, 255.0f, 0.485f, 0.229f,
  127.5f, 1e-3f, 1e3f, -0.0f, 123.675f, 58.395f, 1e-30f,
};

typedef struct
{
  const uint8_t *p;
  size_t left;
} Reader;

static uint8_t
take_byte (Reader * r)
{
  if (r->left == 0)
    return 0;
  r->left--;
  return *r->p++;
}

static float
take_float (Reader * r)
{
  uint8_t sel = take_byte (r);
  if (sel < 240)
    return float_table[sel % G_N_ELEMENTS (float_table)];
  uint32_t bits = 0;
  for (int k = 0; k < 4; k++)
    bits = bits << 8 | take_byte (r);
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* A tensor side: 1..64 mostly, sometimes out of range. */
static int
take_side (Reader * r)
{
  uint8_t b = take_byte (r);
  return b == 255 ? 0 : b == 254 ? SN_PREPROCESS_MAX_OUT_SIDE + 1 : 1 + b % 64;
}

static void
take_config (Reader * r, SnPreprocessConfig * c)
{
  uint8_t b = take_byte (r);
  c->channel_order = (b & 7) == 7 ? 2 : (SnChannelOrder) (b & 1);
  c->resize = (SnResizeMode) ((b >> 3) & 3);    /* 3: invalid */
  c->out_nhwc = (b >> 5) & 1;
  c->out_width = take_side (r);
  c->out_height = take_side (r);
  c->short_side = (int8_t) take_byte (r) * 3;   /* -384..381, 0: derive */
  c->scale = take_float (r);
  for (int k = 0; k < 3; k++) {
    c->mean[k] = take_float (r);
    c->std[k] = take_float (r);
  }
}

/* Frame layout from the input: format, size, colorimetry, interlacing
 * (info, what sn_preprocessor_new () sees) and the padded layout of the
 * buffer (laid). FALSE when GStreamer itself rejects the combination. */
static gboolean
take_layout (Reader * r, GstVideoInfo * info, GstVideoInfo * laid)
{
  GstVideoFormat fmt = formats[take_byte (r) % n_formats];
  int w = 1 + take_byte (r) % 64, h = 1 + take_byte (r) % 64;
  uint8_t il = take_byte (r), col = take_byte (r), pad = take_byte (r);
  uint8_t align = take_byte (r);
  GstVideoInterlaceMode mode = il < 224 ? GST_VIDEO_INTERLACE_MODE_PROGRESSIVE
      : (GstVideoInterlaceMode) (il % 5);
  GstVideoAlignment al;

  if (!gst_video_info_set_interlaced_format (info, fmt, mode, w, h))
    return FALSE;
  info->colorimetry.matrix = (GstVideoColorMatrix) (col % 7);
  info->colorimetry.range = (GstVideoColorRange) ((col >> 3) % 3);
  *laid = *info;
  gst_video_alignment_reset (&al);
  al.padding_left = 2 * (pad & 3);
  al.padding_right = 2 * ((pad >> 2) & 7);
  al.padding_top = 2 * ((pad >> 5) & 1);
  al.padding_bottom = 2 * ((pad >> 6) & 3);
  for (int p = 0; p < GST_VIDEO_MAX_PLANES; p++)
    al.stride_align[p] = (1u << (align % 6)) - 1;       /* 1..32 bytes */
  return gst_video_info_align (laid, &al);
}

/* mask[i] = 1 where buffer byte i is a visible colour component (Y, U, V
 * or R, G, B; alpha and padding are 0). Every supported format is 8-bit. */
static void
visible_mask (const GstVideoFrame * f, const guint8 * base, guint8 * mask)
{
  int n = GST_VIDEO_INFO_IS_GRAY (&f->info) ? 1 : 3;
  for (int c = 0; c < n; c++) {
    const guint8 *data = GST_VIDEO_FRAME_COMP_DATA (f, c);
    int stride = GST_VIDEO_FRAME_COMP_STRIDE (f, c);
    int ps = GST_VIDEO_FRAME_COMP_PSTRIDE (f, c);
    for (int y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (f, c); y++)
      for (int x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (f, c); x++)
        mask[data - base + (gsize) y * stride + (gsize) x * ps] = 1;
  }
}

/* mask[i] = 1 where buffer byte i is a colour component sample covering a
 * pixel of region r (for subsampled chroma: every sample under the
 * region, even when it also covers pixels outside it). */
static void
region_mask (const GstVideoFrame * f, const guint8 * base,
    const GstVideoRectangle * r, guint8 * mask)
{
  const GstVideoFormatInfo *finfo = f->info.finfo;
  int n = GST_VIDEO_INFO_IS_GRAY (&f->info) ? 1 : 3;
  for (int c = 0; c < n; c++) {
    const guint8 *data = GST_VIDEO_FRAME_COMP_DATA (f, c);
    int stride = GST_VIDEO_FRAME_COMP_STRIDE (f, c);
    int ps = GST_VIDEO_FRAME_COMP_PSTRIDE (f, c);
    int hs = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, c);
    int vs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, c);
    for (int y = r->y >> vs; y <= (r->y + r->h - 1) >> vs; y++)
      for (int x = r->x >> hs; x <= (r->x + r->w - 1) >> hs; x++)
        mask[data - base + (gsize) y * stride + (gsize) x * ps] = 1;
  }
}

static gboolean
sane_config (const SnPreprocessConfig * c)
{
  gboolean ok = isfinite (c->scale) && fabsf (c->scale) <= 1e3f;
  for (int k = 0; k < 3; k++)
    ok = ok && isfinite (c->mean[k]) && fabsf (c->mean[k]) <= 1e6f
        && fabsf (c->std[k]) >= 1e-3f && fabsf (c->std[k]) <= 1e6f;
  return ok;
}

/* One run into a tensor pre-filled with NaN: [3][H][W] or [H][W][3]. */
static float *
run_pre (const GstVideoInfo * info, const SnPreprocessConfig * c,
    const GstVideoFrame * frame, const char *isa)
{
  GError *error = NULL;
  g_setenv ("SHUFFLENET_ISA", isa, TRUE);
  SnPreprocessor *pre = sn_preprocessor_new (info, c, &error);
  if (pre == NULL) {
    if (error == NULL || error->domain != SN_PREPROCESS_ERROR
        || error->message == NULL || error->message[0] == '\0')
      g_error ("refused without an SN_PREPROCESS_ERROR message");
    g_error_free (error);
    return NULL;
  }
  g_assert (error == NULL);
  gsize n = sn_preprocessor_get_tensor_size (pre);
  g_assert (n == (gsize) 3 * c->out_width * c->out_height);
  float *out = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    out[i] = NAN;
  sn_preprocessor_run (pre, frame, out);
  sn_preprocessor_free (pre);
  return out;
}

/* Region r on `threads` threads into a tensor pre-filled with NaN, or NULL
 * when the preprocessor refuses the config (run_pre has checked how). */
static float *
run_region (const GstVideoInfo * info, const SnPreprocessConfig * c,
    const GstVideoFrame * frame, const GstVideoRectangle * r,
    const char *isa, int threads)
{
  g_setenv ("SHUFFLENET_ISA", isa, TRUE);
  SnPreprocessor *pre = sn_preprocessor_new (info, c, NULL);
  if (pre == NULL)
    return NULL;
  gboolean inside = r->x >= 0 && r->y >= 0 && r->w > 0 && r->h > 0
      && (gint64) r->x + r->w <= GST_VIDEO_INFO_WIDTH (info)
      && (gint64) r->y + r->h <= GST_VIDEO_INFO_HEIGHT (info);
  if (sn_preprocess_region_valid (pre, r) != inside)
    g_error ("region (%d,%d %dx%d) of a %dx%d frame: valid says %d", r->x,
        r->y, r->w, r->h, GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), !inside);
  float *out = NULL;
  if (inside) {
    gsize n = sn_preprocessor_get_tensor_size (pre);
    out = g_new (float, n);
    for (gsize i = 0; i < n; i++)
      out[i] = NAN;
    sn_preprocessor_set_threads (pre, threads);
    sn_preprocessor_run_regions (pre, frame, r, 1, out);
  }
  sn_preprocessor_free (pre);
  return out;
}

static void
check_tensors (const SnPreprocessConfig * c, const float *a, const float *b,
    const float *simd)
{
  gsize n = (gsize) 3 * c->out_width * c->out_height;
  if (memcmp (a, b, n * sizeof (float)) != 0)
    g_error ("the tensor depends on bytes it must not read (padding, alpha, x, or outside the region)");
  if (!sane_config (c))
    return;
  double k = 0.0, m = 0.0;
  for (int i = 0; i < 3; i++) {
    k = MAX (k, fabs (c->scale / c->std[i]));
    m = MAX (m, fabs (c->mean[i] / c->std[i]));
  }
  /* 0.02 levels (two kernels each within 0.01 of the reference, see
   * tests/preprocess) plus float rounding of the normalization */
  double tol = 0.02 * k + 4e-6 * (m + 255.0 * k);
  for (gsize i = 0; i < n; i++) {
    if (!isfinite (a[i]))
      g_error ("tensor value %" G_GSIZE_FORMAT " is %g (not written?)", i,
          a[i]);
    if (simd && !(fabs (a[i] - simd[i]) <= tol))
      g_error ("value %" G_GSIZE_FORMAT ": plain C %.9g, AVX2 %.9g, tolerance "
          "%g", i, a[i], simd[i], tol);
  }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL
      | G_LOG_LEVEL_WARNING);
  gst_init (NULL, NULL);
  list_formats ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  Reader r = { data, size };
  GstVideoInfo info, laid;
  SnPreprocessConfig cfg;
  GstVideoFrame frame;

  if (!take_layout (&r, &info, &laid))
    return 0;
  take_config (&r, &cfg);
  if (GST_VIDEO_INFO_INTERLACE_MODE (&info)
      == GST_VIDEO_INTERLACE_MODE_ALTERNATE) {
    /* one field per buffer: must be refused (frames would not match) */
    g_assert (run_pre (&info, &cfg, NULL, "ref") == NULL);
    return 0;
  }

  /* exactly laid.size bytes, so that ASan sees a read past the frame */
  gsize size_b = laid.size;
  guint8 *bytes = malloc (size_b ? size_b : 1);
  guint8 *mask = calloc (size_b ? size_b : 1, 1);
  for (gsize i = 0; i < size_b; i++)
    bytes[i] = r.left ? r.p[i % r.left] : (guint8) (i * 37);
  GstBuffer *buf = gst_buffer_new_wrapped_full (0, bytes, size_b, 0, size_b,
      NULL, NULL);
  if (!gst_video_frame_map (&frame, &laid, buf, GST_MAP_READ))
    g_error ("cannot map a %s frame",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&laid)));
  visible_mask (&frame, bytes, mask);
  GstVideoRectangle roi;
  roi.x = (int8_t) take_byte (&r);      /* -128..127: outside sometimes */
  roi.y = (int8_t) take_byte (&r);
  roi.w = (int8_t) take_byte (&r);
  roi.h = (int8_t) take_byte (&r);
  float *a = run_pre (&info, &cfg, &frame, "ref");
  float *ra = a ? run_region (&info, &cfg, &frame, &roi, "ref", 1) : NULL;
  float *rsimd = ra ? run_region (&info, &cfg, &frame, &roi, "avx2", 3) : NULL;
  if (a) {
    for (gsize i = 0; i < size_b; i++)
      bytes[i] ^= mask[i] ? 0 : 0xff;
    float *b = run_pre (&info, &cfg, &frame, "ref");
    float *simd = run_pre (&info, &cfg, &frame, "avx2");
    g_assert (b && simd);
    check_tensors (&cfg, a, b, simd);
    g_free (b);
    g_free (simd);
  }
  if (ra) {
    memset (mask, 0, size_b ? size_b : 1);
    region_mask (&frame, bytes, &roi, mask);
    for (gsize i = 0; i < size_b; i++)
      bytes[i] ^= mask[i] ? 0 : 0xff;
    float *rb = run_region (&info, &cfg, &frame, &roi, "ref", 3);
    g_assert (rb && rsimd);
    check_tensors (&cfg, ra, rb, rsimd);
    g_free (rb);
  }
  g_free (ra);
  g_free (rsimd);
  g_free (a);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  free (bytes);
  free (mask);
  return 0;
}
