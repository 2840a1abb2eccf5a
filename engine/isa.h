/* isa.h - the one place that decides which instruction set runs: the
 * engine's kernel tables (kernels_fast.c) and, through sn_isa_name () in
 * shufflenet.h, the GStreamer element's preprocessing. No GStreamer, no
 * GLib, no other engine file: tools that need only the decision (the
 * preprocessing's fuzz target) compile this file alone.
 *
 * The pick: the best instruction set this CPU and build run (AVX-512 F,
 * BW, DQ, VL with FMA; else AVX2 with FMA; else plain C), or the one the
 * environment variable SHUFFLENET_ISA names (ref, avx2, avx512) when the
 * CPU runs it; an unknown name or one the CPU lacks is ignored. Read at
 * each call (tests switch it). */
#ifndef SN_ISA_H
#define SN_ISA_H

#include <stdbool.h>

typedef enum {
  SN_ISA_REF = 0,               /* plain C */
  SN_ISA_AVX2 = 1,              /* AVX2 + FMA */
  SN_ISA_AVX512 = 2,            /* AVX-512 F/BW/DQ/VL + FMA */
} sn_isa;

/* Whether this CPU (and build: x86-64 only for the vector ones) runs it. */
bool sn_isa_cpu_has (sn_isa isa);
/* AVX512_BF16 on top of AVX-512 (the bf16 precision's kernels). */
bool sn_isa_cpu_has_bf16 (void);
/* The pick described above. */
sn_isa sn_isa_pick (void);
/* "ref", "avx2", "avx512"; and back (-1 for an unknown name). */
const char *sn_isa_to_string (sn_isa isa);
int sn_isa_from_string (const char *name);

#endif /* SN_ISA_H */
