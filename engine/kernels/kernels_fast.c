/* kernels_fast.c - kernel tables and run-time selection by CPU features.
 * The vectorized tables live in kernels_avx512.c and kernels_avx2.c (built
 * on x86-64 only, each with its own ISA flags); this file is built with the
 * baseline flags; which table runs is isa.c's decision. */
#include "kernels.h"

#include <string.h>

#include "isa.h"

/* The references for sn_dw_multi and sn_pool_multi: the single-plane
 * references, plane by plane. */
void
sn_dw_multi_f32__ref (const sn_dw_multi_args *a, int oy0, int oy1)
{
  for (int j = 0; j < a->planes; j++) {
    sn_dw_args p = sn_dw_multi_plane (a, j);
    sn_dw_f32__ref (&p, oy0, oy1);
  }
}

void
sn_pool_multi_f32__ref (const sn_pool_args *a, int planes, size_t in_plane,
    float *const *out_rows, int oy0, int oy1)
{
  for (int j = 0; j < planes; j++) {
    sn_pool_args p = sn_pool_multi_plane (a, in_plane, out_rows, j);
    sn_pool_f32__ref (&p, oy0, oy1);
  }
}

/* The reference for sn_conv_multi: the single-plane reference, channel by
 * channel. (Here rather than in kernels_ref.c: it only composes it.) */
void
sn_conv_multi_f32__ref (const sn_conv_multi_args *a, int co0, int co1,
    int oy0, int oy1)
{
  size_t per_co = (size_t) a->cin * a->kh * a->kw;
  for (int co = co0; co < co1; co++) {
    sn_conv_args c = {
      .cin = a->cin, .in_h = a->in_h, .in_w = a->in_w, .out_h = a->out_h,
      .out_w = a->out_w, .kh = a->kh, .kw = a->kw, .stride_h = a->stride_h,
      .stride_w = a->stride_w, .pad_top = a->pad_top,
      .pad_left = a->pad_left, .in = a->in, .in_plane = a->in_plane,
      .weight = a->weight + per_co * co, .bias = a->bias[co],
      .out = a->out_rows[co], .res = NULL, .relu = a->relu,
    };
    sn_conv_f32__ref (&c, oy0, oy1);
  }
}

static const sn_kernel_table table_ref = {
  .isa = "ref",
  .pw = sn_pw_f32__ref,
  .pw_packed_size = sn_pw_packed_size__ref,
  .pw_pack = sn_pw_pack__ref,
  .dw3x3 = sn_dw_f32__ref,
  .dw_multi = sn_dw_multi_f32__ref,
  .conv = sn_conv_f32__ref,
  .pool = sn_pool_f32__ref,
  .pool_multi = sn_pool_multi_f32__ref,
  .dense = sn_dense_f32__ref,
  .plane_mean = sn_plane_mean_f32,
  .conv_multi = sn_conv_multi_f32__ref,
  .pw_block_co = 1,
  .pw_block_px = 1,
  .pw_task_co_max = 32,
  .pw_task_co_min = 1,
};

#if defined(__x86_64__)
#define SN_HAVE_X86_KERNELS 1
extern const sn_kernel_table sn_kernel_table__avx512;
extern const sn_kernel_table sn_kernel_table__avx2;
extern const sn_kernel_table sn_kernel_table__avx512bf16;
#endif

/* NULL when the name is unknown or this CPU (or build) lacks the ISA. */
const sn_kernel_table *
sn_kernels_get (const char *isa)
{
  if (isa == NULL || strcmp (isa, "ref") == 0)
    return &table_ref;
#ifdef SN_HAVE_X86_KERNELS
  if (strcmp (isa, "avx512") == 0)
    return sn_isa_cpu_has (SN_ISA_AVX512) ? &sn_kernel_table__avx512 : NULL;
  if (strcmp (isa, "avx2") == 0)
    return sn_isa_cpu_has (SN_ISA_AVX2) ? &sn_kernel_table__avx2 : NULL;
  if (strcmp (isa, "avx512bf16") == 0)
    return sn_isa_cpu_has_bf16 () ? &sn_kernel_table__avx512bf16 : NULL;
#endif
  return NULL;
}

/* The fp32 table of the ISA isa.c picks (SHUFFLENET_ISA or the best). */
const sn_kernel_table *
sn_kernels_best (void)
{
  const sn_kernel_table *t = sn_kernels_get (sn_isa_to_string (sn_isa_pick ()));
  return t != NULL ? t : &table_ref;
}

/* The bf16 table where the fp32 pick is AVX-512 and the CPU has
 * AVX512_BF16 (so SHUFFLENET_ISA=avx2 or ref also turns bf16 off). */
const sn_kernel_table *
sn_kernels_bf16 (void)
{
  return strcmp (sn_kernels_best ()->isa, "avx512") == 0
      ? sn_kernels_get ("avx512bf16") : NULL;
}
