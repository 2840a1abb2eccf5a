/* isa.c - which instruction set runs (see isa.h). Built with the baseline
 * flags: it only reads CPUID, through __builtin_cpu_supports, which also
 * checks that the OS saves the vector registers. */
#include "isa.h"

#include "shufflenet.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = { "ref", "avx2", "avx512" };

const char *
sn_isa_to_string (sn_isa isa)
{
  return (unsigned) isa < sizeof (names) / sizeof (names[0]) ?
      names[isa] : NULL;
}

int
sn_isa_from_string (const char *name)
{
  for (int i = 0; name != NULL && i < (int) (sizeof (names) /
          sizeof (names[0])); i++)
    if (strcmp (name, names[i]) == 0)
      return i;
  return -1;
}

bool
sn_isa_cpu_has (sn_isa isa)
{
  switch (isa) {
    case SN_ISA_REF:
      return true;
#if defined(__x86_64__)
    case SN_ISA_AVX2:
      __builtin_cpu_init ();
      return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
    case SN_ISA_AVX512:
      __builtin_cpu_init ();
      return __builtin_cpu_supports ("avx512f")
          && __builtin_cpu_supports ("avx512bw")
          && __builtin_cpu_supports ("avx512dq")
          && __builtin_cpu_supports ("avx512vl")
          && __builtin_cpu_supports ("fma");
#endif
    default:
      return false;
  }
}

bool
sn_isa_cpu_has_bf16 (void)
{
#if defined(__x86_64__)
  return sn_isa_cpu_has (SN_ISA_AVX512)
      && __builtin_cpu_supports ("avx512bf16");
#else
  return false;
#endif
}

sn_isa
sn_isa_pick (void)
{
  int forced = sn_isa_from_string (getenv ("SHUFFLENET_ISA"));

  if (forced >= 0 && sn_isa_cpu_has ((sn_isa) forced))
    return (sn_isa) forced;
  if (sn_isa_cpu_has (SN_ISA_AVX512))
    return SN_ISA_AVX512;
  if (sn_isa_cpu_has (SN_ISA_AVX2))
    return SN_ISA_AVX2;
  return SN_ISA_REF;
}

const char *
sn_isa_name (void)
{
  return sn_isa_to_string (sn_isa_pick ());
}
