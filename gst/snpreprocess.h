/* snpreprocess.h - one fused pass from a mapped raw video frame to the
 * model's float input tensor: colour conversion, bilinear resize, resize
 * policy, channel order and normalization, without videoconvert/videoscale.
 *
 * Semantics (what the tests check):
 *
 * Geometry. Every tensor pixel (i, j) maps to a continuous source position
 * with half-pixel centres (align_corners = False, as cv2.resize INTER_LINEAR
 * and torch interpolate (antialias = False) do):
 *   u = (j - left + 0.5) * W / Rw - 0.5,  v = (i - top + 0.5) * H / Rh - 0.5
 * where Rw x Rh is the size the W x H frame is resized to and (left, top)
 * is where that resized image sits in the tensor (negative when cropping).
 * Positions are clamped to [0, W-1] x [0, H-1] (edge replication), then
 * the four neighbours are blended bilinearly. There is no antialiasing
 * filter: a 1080p frame is point-sampled at 4 source pixels per tensor
 * pixel, the sampling cv2.resize INTER_LINEAR does (in float here).
 *  - SN_RESIZE_STRETCH: Rw x Rh = out_width x out_height, left = top = 0.
 *  - SN_RESIZE_CROP: Megvii's validation transform (OpencvResize +
 *    torchvision CenterCrop): the short side becomes S = short_side (0:
 *    round (min (out_w, out_h) * 256 / 224)), the long side
 *    floor (S * long / short + 0.5); then the centred out_w x out_h window
 *    is taken, its offset (R - out) / 2 rounded half to even as Python's
 *    round () does. When the resized image would not cover the tensor (S
 *    below an output side, or a non-square tensor on a frame of the other
 *    orientation) the scale grows to the smallest one that covers it.
 *  - SN_RESIZE_LETTERBOX: scale s = min (out_w / W, out_h / H), Rw =
 *    floor (W * s + 0.5) (same for Rh, at most the tensor size), the image
 *    placed at left = floor ((out_w - Rw) / 2), top likewise. The bars
 *    hold tensor value 0 in every channel, i.e. the mean colour, which is
 *    also what a convolution's zero padding means to the network.
 *
 * Colour. Bilinear blending is done on the source's own components (Y, U,
 * V or R, G, B), then the blend is converted to RGB, clamped to 0..255 and
 * normalized. As conversion is affine this equals converting every source
 * pixel to RGB first and blending after, except where the source holds
 * colours outside the RGB cube (then the clamp applies after the blend).
 *  - YUV: matrix (BT.601, BT.709, BT.2020, SMPTE 240M, FCC) and range
 *    (16-235 or 0-255) from in_info's colorimetry; unknown matrix: BT.601,
 *    unknown range: limited. Chroma of 4:2:0 / 4:2:2 formats is taken from
 *    the chroma sample covering each source pixel (sample replication,
 *    centre siting, what OpenCV's YUV2RGB does); no chroma filter.
 *  - RGB formats: alpha and padding bytes are ignored; limited-range RGB
 *    colorimetry is expanded to 0..255.
 *  - GRAY8: Y (range from colorimetry, full by default) into all three
 *    channels.
 *  - tensor channel c = (rgb[c'] * scale - mean[c]) / std[c] with c' the
 *    channel_order's c-th colour; mean/std are given in tensor order.
 *
 * Performance: coordinate, weight and colour tables are built once in
 * sn_preprocessor_new (); sn_preprocessor_run () allocates nothing, reads
 * only the source rows and columns it samples (a horizontal pass per
 * sampled row, cached so a row shared by two tensor rows is read once),
 * then blends vertically, converts and normalizes in one loop. 1080p I420
 * or RGB -> 3x224x224 takes ~0.2 ms on one core with the frame in cache,
 * ~0.35 ms fresh from memory (Xeon 2.8 GHz, AVX2 kernels), on one
 * thread; sn_preprocessor_set_threads () splits the tensor rows into bands
 * run in parallel (OpenMP, or the threads sn_preprocessor_set_parallel ()
 * names), each with its own scratch, and the result does
 * not depend on the thread count. A preprocessor keeps per-run scratch, so
 * use one per streaming thread.
 * The kernels follow the engine's instruction set (sn_isa_name () of
 * shufflenet.h, read by sn_preprocessor_new): plain C for "ref"
 * (SHUFFLENET_ISA=ref), AVX2 + FMA otherwise.
 */
#ifndef __SN_PREPROCESS_H__
#define __SN_PREPROCESS_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* The raw formats sn_preprocessor_run () reads: the one list, in the
 * element's pad templates and behind sn_preprocess_format_supported ();
 * the tests read it from the templates. */
#define SN_PREPROCESS_FORMATS \
  "{ I420, NV12, NV21, YUY2, UYVY, RGB, BGR, RGBA, BGRA, RGBx, BGRx, " \
  "xRGB, xBGR, ARGB, ABGR, GRAY8 }"
#define SN_PREPROCESS_VIDEO_CAPS GST_VIDEO_CAPS_MAKE (SN_PREPROCESS_FORMATS)

/* Most threads sn_preprocessor_set_threads () accepts. */
#define SN_PREPROCESS_MAX_THREADS 256

/* Largest tensor side accepted, and largest frame side. */
#define SN_PREPROCESS_MAX_OUT_SIDE 16384
#define SN_PREPROCESS_MAX_IN_SIDE 65536

#define SN_PREPROCESS_ERROR (sn_preprocess_error_quark ())
GQuark sn_preprocess_error_quark (void);

typedef enum
{
  SN_PREPROCESS_ERROR_FORMAT,   /* pixel format or layout not supported */
  SN_PREPROCESS_ERROR_SIZE,     /* a frame or tensor size out of range */
  SN_PREPROCESS_ERROR_CONFIG    /* a bad normalization/resize setting */
} SnPreprocessError;

typedef enum
{
  SN_RESIZE_STRETCH,
  SN_RESIZE_CROP,
  SN_RESIZE_LETTERBOX
} SnResizeMode;

typedef enum
{
  SN_CHANNEL_ORDER_RGB,
  SN_CHANNEL_ORDER_BGR
} SnChannelOrder;

typedef struct
{
  SnChannelOrder channel_order; /* order of the 3 tensor channels */
  float scale;                  /* 0..255 pixel values are multiplied by this first */
  float mean[3], std[3];        /* then (v*scale - mean[c]) / std[c], c in tensor channel order */
  SnResizeMode resize;
  int short_side;               /* CROP only: resize short side to this, then centre-crop the tensor
                                   size; 0 = derive as round(min(out_w,out_h) * 256 / 224) */
  int out_width, out_height;    /* tensor spatial size */
  gboolean out_nhwc;            /* FALSE: [3][H][W] planar; TRUE: [H][W][3] interleaved */
} SnPreprocessConfig;

typedef struct _SnPreprocessor SnPreprocessor;

/* Validates the input (format supported, sizes in range, finite scale,
 * mean and std, std != 0, known enums, short_side >= 0, progressive or
 * interleaved-field video) and precomputes all tables. Returns NULL and
 * sets @error (SN_PREPROCESS_ERROR, message naming the bad value) on bad
 * input. @config is copied. */
SnPreprocessor *sn_preprocessor_new (const GstVideoInfo * in_info,
    const SnPreprocessConfig * config, GError ** error);

void sn_preprocessor_free (SnPreprocessor * pre);

/* Threads for sn_preprocessor_run () (1 .. SN_PREPROCESS_MAX_THREADS; a
 * new preprocessor has 1): the active tensor rows are cut into that many
 * bands, each run by one thread with its own scratch (allocated here, not
 * per frame). Results are bit-identical for every thread count. */
void sn_preprocessor_set_threads (SnPreprocessor * pre, int threads);

/* Runs body (data, i) for every i in [0, n) and returns when all are done;
 * @pool is what sn_preprocessor_set_parallel () was given. */
typedef void (*SnParallelFor) (gpointer pool, gint n,
    void (*body) (void *data, int i), void *data);

/* Who runs the bands of sn_preprocessor_run (): @parallel_for (the element
 * passes its inference threads', sn_context_parallel ()), or, with NULL,
 * an OpenMP parallel for on the calling thread. */
void sn_preprocessor_set_parallel (SnPreprocessor * pre,
    SnParallelFor parallel_for, gpointer pool);

/* @frame: mapped for reading, same format, width and height as in_info
 * (its strides and plane offsets are read from the frame, so they may
 * differ from in_info and from frame to frame).
 * @out: float32 tensor of 3 * out_height * out_width values, [3][H][W] or
 * [H][W][3] as the config says; every value is written. No alignment
 * needed. A frame of the wrong format or size is refused with a critical
 * warning and @out left untouched. */
void sn_preprocessor_run (SnPreprocessor * pre, const GstVideoFrame * frame,
    float *out);

/* Regions of interest. Each region (frame pixels [x, x + w) x [y, y + h),
 * inside the frame) is preprocessed as if it were a frame of its own of
 * w x h pixels (the resize mode applies to its size, edge replication at
 * its borders), into its own tensor; its taps stay frame coordinates, so
 * chroma of subsampled formats comes from the sample covering each frame
 * pixel, exactly as the whole frame's does, at any region parity.
 * @out: n tensors back to back (tensor i at out + i * tensor size). Runs
 * one region per thread while at least as many regions as threads remain,
 * then each remaining region in bands of rows over all threads; results
 * do not depend on the thread count. Allocates nothing. A region outside
 * the frame, or a frame that does not match, is refused with a critical
 * warning and @out left untouched: check with
 * sn_preprocess_region_valid (). */
void sn_preprocessor_run_regions (SnPreprocessor * pre,
    const GstVideoFrame * frame, const GstVideoRectangle * regions, int n,
    float *out);

/* Whether @region (w, h >= 1) lies inside the preprocessor's frame. */
gboolean sn_preprocess_region_valid (const SnPreprocessor * pre,
    const GstVideoRectangle * region);

/* Tensor size the preprocessor was configured for: 3 * out_w * out_h. */
gsize sn_preprocessor_get_tensor_size (const SnPreprocessor * pre);

gboolean sn_preprocess_format_supported (GstVideoFormat format);

G_END_DECLS

#endif /* __SN_PREPROCESS_H__ */
