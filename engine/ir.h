/* ir.h - the engine's internal representation: a planned operator list.
 *
 * The loader (lower.c) turns an ONNX graph into a short list of operators
 * over "values". Every value is a per-image planar tensor [c][h][w] (float32;
 * a vector of K scores is [K][1][1]); the batch dimension is not part of the
 * IR: the executor runs the list once per image. BatchNorm, ReLU, residual
 * adds, channel shuffles and concats never appear as operators when they can
 * be folded: each operator writes its op-local output channel oc to plane
 * out_map[oc] of its output value (that is how a shuffle or a concat costs
 * nothing), and a conv adds residual plane res_map[oc] in its epilogue.
 *
 * plan.h then places every value: in one arena per model, and per context
 * in the row bands of its team.
 */
#ifndef SN_IR_H
#define SN_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "shufflenet.h"

typedef enum {
  SN_OP_INPUT_NHWC,  /* interleaved caller input -> planar value (Keras models) */
  SN_OP_CONV,        /* any conv: pointwise, depthwise or dense kernels */
  SN_OP_POOL,        /* max / average window pooling */
  SN_OP_GLOBAL_POOL, /* mean of each plane -> [c][1][1] */
  SN_OP_DENSE,       /* [c][1][1] -> [k][1][1], weight [k][c] */
  SN_OP_SOFTMAX,     /* [k][1][1] -> [k][1][1] */
  SN_OP_ADD,         /* elementwise a + b (when it could not be fused) */
  SN_OP_COPY,        /* plane copy (a shuffle/concat/relu that could not fold) */
} sn_op_kind;

const char *sn_op_kind_name (sn_op_kind kind);

/* Floats in a 64-byte cache line: planes start on one (plane_stride). */
#define SN_LINE_FLOATS 16

/* Largest activation accepted (floats per image), so sizes never overflow. */
#define SN_MAX_VALUE_FLOATS ((int64_t) 1 << 28)

typedef struct {
  int c, h, w;
  /* A value that lives inside another one (a concat input): its plane p is
   * plane alias_offset + p of value alias_of. -1 when it owns its planes. */
  int alias_of;
  int alias_offset;
  bool external;       /* the caller's NCHW input: not in the arena */
  size_t arena_offset; /* in floats, for owners placed in the arena */
  /* Floats from one plane to the next, for owners (set by sn_plan_arena):
   * h*w for the caller's input and for planes under 16 floats, else h*w
   * rounded up to 16 (every plane starts on a cache line, so a kernel's
   * vector loads along a plane do not straddle lines; the padding is
   * never read or written). */
  size_t plane_stride;
} sn_value;

typedef struct {
  sn_op_kind kind;
  char name[96];        /* ONNX node name (or op type + index), for messages */
  int in, in_offset;    /* input value and its first channel read */
  int in2;              /* second input (ADD), or -1 */
  int out;              /* output value */
  int out_channels;     /* channels this op produces */
  int *out_map;         /* [out_channels] plane of `out` for op channel oc */
  int res;              /* residual value added in the epilogue, or -1 */
  int *res_map;         /* [out_channels] plane of `res` for op channel oc */
  bool relu;

  /* SN_OP_CONV: groups, kernel, stride and explicit pads (top, left,
   * bottom, right); in_channels counts all groups. */
  int groups, in_channels, kh, kw, stride_h, stride_w;
  int pad_t, pad_l, pad_b, pad_r;
  float *weight;        /* CONV [cout][cin/groups][kh][kw]; DENSE [k][c] */
  float *bias;          /* CONV [cout] (zeros if none); DENSE [k] or NULL */
  float *packed;        /* pointwise CONV: groups x pw_pack(weight of group) */
  const sn_kernel_table *pw_kernels; /* pointwise CONV: the table whose
                         * pw_pack packed it and whose pw runs it */
  size_t packed_group_stride; /* floats between two groups in `packed` */

  /* SN_OP_POOL */
  sn_pool_kind pool_kind;
  bool count_include_pad;

  double macs;          /* multiply-adds per image */
} sn_op;

typedef struct {
  sn_op *ops;
  int n_ops, cap_ops;
  sn_value *values;
  int n_values, cap_values;
  int input_value;      /* the graph input (after the NHWC transpose if any) */
  int output_value;     /* [classes][1][1] */
  size_t arena_floats;  /* set by sn_plan_arena */
} sn_graph;

/* What a lowered model takes and gives, besides its graph (sn_lower_onnx). */
typedef struct {
  sn_input_info input; /* per-image input shape and layout */
  int classes;
  bool probabilities;  /* graph ends in Softmax */
} sn_lowered_info;

/* Graph construction helpers (plan.c), used by the lowering. Return -1 on allocation failure. */
int sn_graph_add_value (sn_graph *g, int c, int h, int w);
sn_op *sn_graph_add_op (sn_graph *g, sn_op_kind kind, const char *name);
void sn_graph_clear (sn_graph *g);

/* Follow aliases: the owner value of `v` and the plane offset inside it. */
int sn_value_root (const sn_graph *g, int v, int *plane_offset);

/* Input rows [*i0, *i1) a conv or pool reads for its output rows [o0, o1)
 * (its window; the same rows for a 1x1 stride-1 conv), clipped to the
 * input; empty (i0 == i1) for no output rows. */
void sn_op_input_rows (const sn_graph *g, const sn_op *op, int o0, int o1,
    int *i0, int *i1);

/* Fill err (when not NULL) with status and a printf-style message. */
sn_status sn_set_error (sn_error *err, sn_status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif /* SN_IR_H */
