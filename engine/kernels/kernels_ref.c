/* kernels_ref.c - reference kernels: plain C, one output at a time.
 * They define correctness for the optimized kernels and serve CPUs that
 * have none of the vector extensions. */
#include "kernels.h"

#include <assert.h>
#include <float.h>
#include <string.h>

static inline float
epilogue (float v, bool relu)
{
  return relu && v < 0.0f ? 0.0f : v;
}

void
sn_pw_f32__ref (const sn_pw_args *a, int co0, int co1, size_t p0, size_t p1)
{
  assert (co0 >= 0 && co1 <= a->cout && p1 <= a->npix);
  for (int co = co0; co < co1; co++) {
    const float *w = a->weight + (size_t) co * a->cin;   /* [cin] */
    float *out = a->out_rows[co];                          /* [npix] */
    const float *res = a->res_rows ? a->res_rows[co] : NULL;
    for (size_t p = p0; p < p1; p++) {
      float acc = a->bias[co];
      for (int ci = 0; ci < a->cin; ci++)
        acc += w[ci] * a->in[ci * a->in_plane + p];
      if (res)
        acc += res[p];
      out[p] = epilogue (acc, a->relu);
    }
  }
}

size_t
sn_pw_packed_size__ref (int cout, int cin)
{
  return (size_t) cout * cin;
}

void
sn_pw_pack__ref (const float *w, int cout, int cin, float *packed)
{
  memcpy (packed, w, sizeof (float) * (size_t) cout * cin);
}

void
sn_dw_f32__ref (const sn_dw_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  for (int oy = oy0; oy < oy1; oy++) {
    for (int ox = 0; ox < a->out_w; ox++) {
      float acc = a->bias;
      for (int ky = 0; ky < a->k; ky++) {
        int iy = oy * a->stride - a->pad_top + ky;
        if (iy < 0 || iy >= a->in_h)
          continue;
        for (int kx = 0; kx < a->k; kx++) {
          int ix = ox * a->stride - a->pad_left + kx;
          if (ix < 0 || ix >= a->in_w)
            continue;
          acc += a->weight[ky * a->k + kx] * a->in[(size_t) iy * a->in_w + ix];
        }
      }
      a->out[(size_t) oy * a->out_w + ox] = epilogue (acc, a->relu);
    }
  }
}

void
sn_conv_f32__ref (const sn_conv_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  for (int oy = oy0; oy < oy1; oy++) {
    for (int ox = 0; ox < a->out_w; ox++) {
      float acc = a->bias;
      for (int ci = 0; ci < a->cin; ci++) {
        const float *in = a->in + ci * a->in_plane;                /* [in_h][in_w] */
        const float *w = a->weight + (size_t) ci * a->kh * a->kw; /* [kh][kw] */
        for (int ky = 0; ky < a->kh; ky++) {
          int iy = oy * a->stride_h - a->pad_top + ky;
          if (iy < 0 || iy >= a->in_h)
            continue;
          for (int kx = 0; kx < a->kw; kx++) {
            int ix = ox * a->stride_w - a->pad_left + kx;
            if (ix < 0 || ix >= a->in_w)
              continue;
            acc += w[ky * a->kw + kx] * in[(size_t) iy * a->in_w + ix];
          }
        }
      }
      size_t o = (size_t) oy * a->out_w + ox;
      if (a->res)
        acc += a->res[o];
      a->out[o] = epilogue (acc, a->relu);
    }
  }
}

void
sn_pool_f32__ref (const sn_pool_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  for (int oy = oy0; oy < oy1; oy++) {
    for (int ox = 0; ox < a->out_w; ox++) {
      float acc = a->kind == SN_POOL_MAX ? -FLT_MAX : 0.0f;
      int taps = 0;
      for (int ky = 0; ky < a->k_h; ky++) {
        int iy = oy * a->stride_h - a->pad_top + ky;
        if (iy < 0 || iy >= a->in_h)
          continue;
        for (int kx = 0; kx < a->k_w; kx++) {
          int ix = ox * a->stride_w - a->pad_left + kx;
          if (ix < 0 || ix >= a->in_w)
            continue;
          float v = a->in[(size_t) iy * a->in_w + ix];
          if (a->kind == SN_POOL_MAX)
            acc = v > acc ? v : acc;
          else
            acc += v;
          taps++;
        }
      }
      if (a->kind == SN_POOL_AVG) {
        int divisor = a->count_include_pad ? a->k_h * a->k_w : taps;
        acc = divisor > 0 ? acc / (float) divisor : 0.0f;
      } else if (taps == 0) {
        acc = 0.0f;
      }
      a->out[(size_t) oy * a->out_w + ox] = epilogue (acc, a->relu);
    }
  }
}

float
sn_plane_mean_f32 (const float *plane, size_t n)
{
  double sum = 0.0;
  for (size_t i = 0; i < n; i++)
    sum += plane[i];
  return n ? (float) (sum / (double) n) : 0.0f;
}

void
sn_dense_f32__ref (const float *x, int c_in, const float *weight,
    const float *bias, float *out, int k0, int k1)
{
  for (int k = k0; k < k1; k++) {
    const float *w = weight + (size_t) k * c_in;  /* [c_in] */
    float acc = bias ? bias[k] : 0.0f;
    for (int c = 0; c < c_in; c++)
      acc += w[c] * x[c];
    out[k] = acc;
  }
}
