/* kernels_fast.c - kernel tables and run-time selection by CPU features.
 * (Vectorized kernels are added per ISA; until one exists for an op, the
 * table points at the reference kernel.) */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

static const sn_kernel_table table_ref = {
  .isa = "ref",
  .pw = sn_pw_f32__ref,
  .dw3x3 = sn_dw_f32__ref,
  .conv = sn_conv_f32__ref,
  .pool = sn_pool_f32__ref,
};

const sn_kernel_table *
sn_kernels_get (const char *isa)
{
  if (isa == NULL || strcmp (isa, "ref") == 0)
    return &table_ref;
  return NULL;
}

const sn_kernel_table *
sn_kernels_best (void)
{
  const char *forced = getenv ("SHUFFLENET_ISA");
  if (forced && *forced) {
    const sn_kernel_table *t = sn_kernels_get (forced);
    if (t)
      return t;
  }
  return &table_ref;
}
