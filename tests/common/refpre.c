/* refpre.c - the tests' one reference preprocessing (gst/snpreprocess.h's
 * semantics, written here from scratch): its own byte layout of every
 * format, its own Kr/Kb constants, its own geometry. It converts every
 * source pixel to float RGB first (unclamped), then samples bilinearly,
 * then clamps and normalizes, all in double precision: the order the
 * header documents as equal to the fused pass up to float rounding.
 * Used by tests/preprocess (every format, regions) and tests/gst (the
 * element against the engine run on the reference's tensor). */
#include "refpre.h"

#include <math.h>
#include <string.h>

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

gboolean
ref_under_valgrind (void)
{
  return RUNNING_ON_VALGRIND != 0;
}

/* ------------------------------------------------------------------ */
/* Source pixel -> float RGB                                           */

/* The byte layouts, written from the GStreamer format documentation. */
const RefLayout ref_layouts[] = {
  {GST_VIDEO_FORMAT_I420, REF_I420},
  {GST_VIDEO_FORMAT_NV12, REF_NV12},
  {GST_VIDEO_FORMAT_NV21, REF_NV21},
  {GST_VIDEO_FORMAT_YUY2, REF_YUY2},
  {GST_VIDEO_FORMAT_UYVY, REF_UYVY},
  {GST_VIDEO_FORMAT_RGB, REF_RGB, 3, 0, 1, 2},
  {GST_VIDEO_FORMAT_BGR, REF_RGB, 3, 2, 1, 0},
  {GST_VIDEO_FORMAT_RGBA, REF_RGB, 4, 0, 1, 2},
  {GST_VIDEO_FORMAT_BGRA, REF_RGB, 4, 2, 1, 0},
  {GST_VIDEO_FORMAT_RGBx, REF_RGB, 4, 0, 1, 2},
  {GST_VIDEO_FORMAT_BGRx, REF_RGB, 4, 2, 1, 0},
  {GST_VIDEO_FORMAT_xRGB, REF_RGB, 4, 1, 2, 3},
  {GST_VIDEO_FORMAT_xBGR, REF_RGB, 4, 3, 2, 1},
  {GST_VIDEO_FORMAT_ARGB, REF_RGB, 4, 1, 2, 3},
  {GST_VIDEO_FORMAT_ABGR, REF_RGB, 4, 3, 2, 1},
  {GST_VIDEO_FORMAT_GRAY8, REF_GRAY},
};

const guint ref_n_layouts = G_N_ELEMENTS (ref_layouts);

/* The three raw channel bytes (Y U V, R G B, or Y Y Y) of pixel (x, y). */
void
ref_raw_pixel (const GstVideoFrame * f, const RefLayout * l, int x, int y, int *c)
{
#define ROW(p) ((const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (f, p) + \
    (gsize) (y) * GST_VIDEO_FRAME_PLANE_STRIDE (f, p))
#define CROW(p) ((const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (f, p) + \
    (gsize) ((y) / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (f, p))
  const guint8 *m;

  switch (l->kind) {
    case REF_RGB:
      m = ROW (0) + x * l->bpp;
      c[0] = m[l->r], c[1] = m[l->g], c[2] = m[l->b];
      break;
    case REF_GRAY:
      c[0] = c[1] = c[2] = ROW (0)[x];
      break;
    case REF_I420:
      c[0] = ROW (0)[x], c[1] = CROW (1)[x / 2], c[2] = CROW (2)[x / 2];
      break;
    case REF_NV12:
    case REF_NV21:
      m = CROW (1) + (x / 2) * 2;
      c[0] = ROW (0)[x];
      c[1] = m[l->kind == REF_NV12 ? 0 : 1];
      c[2] = m[l->kind == REF_NV12 ? 1 : 0];
      break;
    case REF_YUY2:               /* Y0 U Y1 V */
      m = ROW (0) + (x / 2) * 4;
      c[0] = m[(x % 2) * 2], c[1] = m[1], c[2] = m[3];
      break;
    case REF_UYVY:               /* U Y0 V Y1 */
      m = ROW (0) + (x / 2) * 4;
      c[0] = m[1 + (x % 2) * 2], c[1] = m[0], c[2] = m[2];
      break;
  }
#undef ROW
#undef CROW
}

/* rgb = M * (c0, c1, c2, 1), 0..255 scale, from our own constants. */
RefMatrix
ref_matrix (const RefLayout * l, const GstVideoColorimetry * cm)
{
  RefMatrix r = { {{0}} };
  double kr, kb, ys, yo, cs;

  if (l->kind == REF_RGB || l->kind == REF_GRAY) {
    for (int i = 0; i < 3; i++)
      r.m[i][i] = 1.0;
    return r;
  }
  switch (cm->matrix) {
    case GST_VIDEO_COLOR_MATRIX_BT709:
      kr = 0.2126, kb = 0.0722;
      break;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      kr = 0.2627, kb = 0.0593;
      break;
    default:                   /* BT.601 */
      kr = 0.299, kb = 0.114;
      break;
  }
  if (cm->range == GST_VIDEO_COLOR_RANGE_0_255)
    ys = 255.0 / 255.0, yo = 0.0, cs = 255.0 / 255.0;
  else
    ys = 255.0 / 219.0, yo = 16.0, cs = 255.0 / 224.0;
  /* R = Y' + 2 (1 - Kr) Cr, B = Y' + 2 (1 - Kb) Cb,
   * G = (Y' - Kr R - Kb B) / (1 - Kr - Kb) */
  {
    double kg = 1.0 - kr - kb;
    double rv = 2.0 * (1.0 - kr), bu = 2.0 * (1.0 - kb);
    double gu = -kb * bu / kg, gv = -kr * rv / kg;
    double u[3] = { 0.0, gu, bu }, v[3] = { rv, gv, 0.0 };
    for (int i = 0; i < 3; i++) {
      r.m[i][0] = ys;
      r.m[i][1] = u[i] * cs;
      r.m[i][2] = v[i] * cs;
      r.m[i][3] = -ys * yo - (u[i] + v[i]) * cs * 128.0;
    }
  }
  return r;
}

/* [H][W][3] float RGB of every source pixel, not clamped. */
double *
ref_rgb_image (const GstVideoFrame * f, const RefLayout * l, const RefMatrix * m)
{
  int w = GST_VIDEO_FRAME_WIDTH (f), h = GST_VIDEO_FRAME_HEIGHT (f);
  double *img = g_new (double, (gsize) w * h * 3);

  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      int c[3] = { 0, 0, 0 };
      double *px = img + ((gsize) y * w + x) * 3;
      ref_raw_pixel (f, l, x, y, c);
      for (int i = 0; i < 3; i++)
        px[i] = m->m[i][0] * c[0] + m->m[i][1] * c[1] + m->m[i][2] * c[2]
            + m->m[i][3];
    }
  }
  return img;
}

/* ------------------------------------------------------------------ */
/* Geometry and sampling                                               */

RefGeom
ref_geometry (int w, int h, const SnPreprocessConfig * c)
{
  int ow = c->out_width, oh = c->out_height;
  RefGeom g = { ow, oh, 0, 0 };

  if (c->resize == SN_RESIZE_CROP) {
    int s = c->short_side ? c->short_side
        : (int) floor (MIN (ow, oh) * 256.0 / 224.0 + 0.5);
    g.rw = w <= h ? s : (int) floor ((double) s * w / h + 0.5);
    g.rh = w <= h ? (int) floor ((double) s * h / w + 0.5) : s;
    if (g.rw < ow || g.rh < oh) {
      double k = MAX ((double) ow / w, (double) oh / h);
      g.rw = MAX (ow, (int) floor (w * k + 0.5));
      g.rh = MAX (oh, (int) floor (h * k + 0.5));
    }
    /* nearbyint in the default rounding mode: half to even */
    g.left = -(int) nearbyint ((g.rw - ow) / 2.0);
    g.top = -(int) nearbyint ((g.rh - oh) / 2.0);
  } else if (c->resize == SN_RESIZE_LETTERBOX) {
    double k = MIN ((double) ow / w, (double) oh / h);
    g.rw = CLAMP ((int) floor (w * k + 0.5), 1, ow);
    g.rh = CLAMP ((int) floor (h * k + 0.5), 1, oh);
    g.left = (ow - g.rw) / 2;
    g.top = (oh - g.rh) / 2;
  }
  return g;
}

/* Bilinear sample of channel k of img [h][w][3] at continuous position
 * (u, v) with half-pixel centres, clamped to the image. */
double
ref_sample (const double *img, int w, int h, double u, double v, int k)
{
  int x0, y0, x1, y1;
  double fx, fy, top, bot;

  u = CLAMP (u, 0.0, w - 1.0);
  v = CLAMP (v, 0.0, h - 1.0);
  x0 = (int) floor (u), y0 = (int) floor (v);
  x1 = MIN (x0 + 1, w - 1), y1 = MIN (y0 + 1, h - 1);
  fx = u - x0, fy = v - y0;
#define P(x, y) img[((gsize) (y) * w + (x)) * 3 + k]
  top = P (x0, y0) + fx * (P (x1, y0) - P (x0, y0));
  bot = P (x0, y1) + fx * (P (x1, y1) - P (x0, y1));
#undef P
  return top + fy * (bot - top);
}

/* The tensor of region r (the whole frame when r is NULL) of the frame
 * whose float RGB image (ref_rgb_image) is frame_img [fh][fw][3], layout
 * as the config says: the region cut out of the image first, then sampled
 * as an image of its own. */
void
ref_tensor_region (const double *frame_img, int fw, int fh,
    const SnPreprocessConfig * c, const GstVideoRectangle * r, float *out)
{
  GstVideoRectangle whole = { 0, 0, fw, fh };
  int ow = c->out_width, oh = c->out_height, w, h;
  double *img;
  RefGeom g;

  if (r == NULL)
    r = &whole;
  w = r->w, h = r->h;
  g = ref_geometry (w, h, c);
  img = g_new (double, (gsize) w * h * 3);      /* [h][w][3] the crop */
  for (int y = 0; y < h; y++)
    memcpy (img + (gsize) y * w * 3,
        frame_img + ((gsize) (r->y + y) * fw + r->x) * 3,
        sizeof (double) * w * 3);

  for (int i = 0; i < oh; i++) {
    for (int j = 0; j < ow; j++) {
      gboolean inside = j >= g.left && j < g.left + g.rw && i >= g.top
          && i < g.top + g.rh;
      double u = (j - g.left + 0.5) * w / g.rw - 0.5;
      double v = (i - g.top + 0.5) * h / g.rh - 0.5;
      for (int k = 0; k < 3; k++) {
        int colour = c->channel_order == SN_CHANNEL_ORDER_RGB ? k : 2 - k;
        double x = inside ? CLAMP (ref_sample (img, w, h, u, v, colour), 0.0,
            255.0) : 0.0;
        double t = inside ? (x * c->scale - c->mean[k]) / c->std[k] : 0.0;
        gsize at = c->out_nhwc ? ((gsize) i * ow + j) * 3 + k
            : ((gsize) k * oh + i) * ow + j;
        out[at] = (float) t;
      }
    }
  }
  g_free (img);
}

void
ref_tensor (const GstVideoFrame * f, const RefLayout * l, const RefMatrix * m,
    const SnPreprocessConfig * c, float *out)
{
  double *img = ref_rgb_image (f, l, m);

  ref_tensor_region (img, GST_VIDEO_FRAME_WIDTH (f),
      GST_VIDEO_FRAME_HEIGHT (f), c, NULL, out);
  g_free (img);
}

