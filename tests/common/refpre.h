/* refpre.h - the tests' one reference preprocessing (see refpre.c). */
#ifndef __SN_REF_PRE_H__
#define __SN_REF_PRE_H__

#include <gst/video/video.h>

#include "snpreprocess.h"

G_BEGIN_DECLS

typedef enum
{
  REF_RGB,                      /* packed, bpp bytes, R/G/B at r, g, b */
  REF_GRAY,
  REF_I420,
  REF_NV12,
  REF_NV21,
  REF_YUY2,
  REF_UYVY
} RefKind;

/* A format's byte layout, written from the GStreamer format docs. */
typedef struct
{
  GstVideoFormat format;
  RefKind kind;
  int bpp, r, g, b;
} RefLayout;

/* Every format the reference reads; the element's must be among them. */
extern const RefLayout ref_layouts[];
extern const guint ref_n_layouts;

/* The three raw channel bytes (Y U V, R G B, or Y Y Y) of pixel (x, y). */
void ref_raw_pixel (const GstVideoFrame * f, const RefLayout * l, int x,
    int y, int *c);

/* rgb = M * (c0, c1, c2, 1), 0..255 scale, from our own constants. */
typedef struct
{
  double m[3][4];
} RefMatrix;

RefMatrix ref_matrix (const RefLayout * l, const GstVideoColorimetry * cm);

/* [H][W][3] float RGB of every source pixel, not clamped. */
double *ref_rgb_image (const GstVideoFrame * f, const RefLayout * l,
    const RefMatrix * m);

typedef struct
{
  int rw, rh, left, top;        /* resized size, its place in the tensor */
} RefGeom;

RefGeom ref_geometry (int w, int h, const SnPreprocessConfig * c);

/* Bilinear sample of channel k of img [h][w][3] at continuous position
 * (u, v) with half-pixel centres, clamped to the image. */
double ref_sample (const double *img, int w, int h, double u, double v,
    int k);

/* The tensor of region r (the whole frame when r is NULL) of the frame
 * whose float RGB image is frame_img [fh][fw][3], laid out as the config
 * says: the region cut out of the image first, then sampled as an image
 * of its own. */
void ref_tensor_region (const double *frame_img, int fw, int fh,
    const SnPreprocessConfig * c, const GstVideoRectangle * r, float *out);

/* The whole frame's tensor. */
void ref_tensor (const GstVideoFrame * f, const RefLayout * l,
    const RefMatrix * m, const SnPreprocessConfig * c, float *out);

/* TRUE under valgrind (tests/run.sh's memcheck pass): tests then run every
 * code path but leave out what only checks numbers against this reference
 * (pass 1 and the ASan pass check them), which valgrind makes 50-100x
 * slower. */
gboolean ref_under_valgrind (void);

G_END_DECLS

#endif /* __SN_REF_PRE_H__ */
