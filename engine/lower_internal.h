/* lower_internal.h - what the files of the ONNX lowering share.
 *
 * Engine-private, not installed: lower.c (context, value tables, helpers,
 * driver), lower_const.c (constants, shape arithmetic), lower_layout.c (graph
 * input, transposes, reshapes, slices, concats) and lower_ops.c (compute ops).
 * Helpers one file uses stay static there, except last_producer_index, kept
 * with the other IR queries in lower.c.
 */
#ifndef SN_LOWER_INTERNAL_H
#define SN_LOWER_INTERNAL_H

#include "lower.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* These short names (val, oom, add_op, ...) must not leave the engine: keep
 * them out of the dynamic symbol table of whatever links it. */
#pragma GCC visibility push (hidden)

/* What an ONNX value name stands for while lowering (see lvalue). */
typedef enum { LV_CONST, LV_TENSOR, LV_SLICE, LV_SHUFFLE5D, LV_PADDED } lv_kind;

/* One ONNX value: a constant (float or int64 data, row-major over dims), an
 * IR activation value (planar [N][C][H][W]), or a pending view of one. */
typedef struct {
  const char *name;    /* ONNX value name (points into the model) */
  lv_kind kind;
  int uses;            /* consuming node inputs (+ graph outputs) */
  /* LV_CONST: data as float or int64, numel elements, dims */
  float *f;
  int64_t *i;
  int64_t numel;
  int rank;
  int64_t dims[6];
  /* LV_TENSOR / LV_SLICE / LV_SHUFFLE5D: the IR value */
  int value;
  bool nhwc_raw;       /* graph input [N][H][W][C] before its Transpose */
  int view_rank;       /* 4 for [N][C][H][W], 2 for [N][C] (h = w = 1) */
  int slice_start, slice_end;  /* LV_SLICE: channels [start, end) */
  int shuf_a, shuf_b;  /* LV_SHUFFLE5D: [N][a][b][H][W], a*b = C */
  bool shuf_transposed;        /* ... after Transpose(0,2,1,3,4) */
  int pad[4];          /* LV_PADDED: zero pads top, left, bottom, right */
} lvalue;

/* The lowering of one model: the graph being built, the lvalue table (sized
 * once for the whole graph) and the node whose handler is running. */
typedef struct {
  const Onnx__GraphProto *gp;
  int64_t opset;
  sn_graph *g;
  lvalue *lv;
  int n_lv, cap_lv;
  int *index;               /* hash slots -> lv index, -1 empty */
  uint32_t index_mask;
  const char **use_names;   /* every name read by a node or the output, sorted */
  size_t n_use_names;
  sn_lowered_info *info;
  sn_error *err;
  const Onnx__NodeProto *node; /* being lowered, for messages */
} lower_ctx;

/* Fail the current node: message "node 'name' (op): <printf detail>". */
#define NODE_ERR(c, status, ...) node_error ((c), (status), __VA_ARGS__)

/* lower.c: errors and the lvalue table */

/* Set c->err to "node 'name' (op): detail" and return status. */
sn_status node_error (lower_ctx *c, sn_status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* The latest lvalue defined for `name`, or NULL. */
lvalue *lv_find (lower_ctx *c, const char *name);
/* A new lvalue for `name` with its use count; NULL when the table is full. */
lvalue *lv_new (lower_ctx *c, const char *name, lv_kind kind);
/* SN_ERR_NOMEM naming the current node. */
sn_status oom (lower_ctx *c);
/* The lvalue of input k of the current node (error if missing or unknown). */
sn_status input_lv (lower_ctx *c, size_t k, lvalue **out);
/* A new lvalue of `kind` for output k of the current node. */
sn_status new_output (lower_ctx *c, size_t k, lv_kind kind, lvalue **out);
/* Output 0 is IR value `value` seen as [N][C][H][W] (4) or [N][C] (2). */
sn_status new_tensor_output (lower_ctx *c, int value, int view_rank);
/* SN_OK when v is a plain activation tensor (not NHWC-raw, not a view). */
sn_status require_tensor (lower_ctx *c, const lvalue *v);
/* SN_OK when v is a constant with float (is_float) or int64 data. */
sn_status require_const (lower_ctx *c, const lvalue *v, bool is_float);

/* lower.c: IR helpers */

/* IR value v of the graph being built ([C][H][W] planes per image). */
sn_value *val (lower_ctx *c, int v);
/* The only op writing value v (its index in *index), or NULL. */
sn_op *sole_producer (lower_ctx *c, int v, int *index);
/* Whether any op writes value v. */
bool has_producer (lower_ctx *c, int v);
/* Index of the last op writing value v (-1 for the external input). */
int last_producer_index (lower_ctx *c, int v);
/* A new op writing `channels` planes of `out` at identity out_map positions. */
sn_op *add_op (lower_ctx *c, sn_op_kind kind, int in, int out, int channels);
/* COPY channels [first, first + n) of src into planes dst_map[0..n) of dst. */
sn_status emit_copy (lower_ctx *c, int src, int first, int dst,
    const int *dst_map, int n);
/* Turn a channel-slice view into a plain tensor (a COPY into a new value). */
sn_status materialize (lower_ctx *c, lvalue *v);

/* lower_const.c: constants and shape arithmetic. Handlers lower c->node. */

/* Fill constant o from tensor t (float or int64 data, dims up to rank 6). */
sn_status store_const_tensor (lower_ctx *c, lvalue *o,
    const Onnx__TensorProto *t);
/* Constant: a tensor, value_int or value_ints attribute. */
sn_status lower_constant (lower_ctx *c);
/* ConstantOfShape: up to 64 int64 elements filled with one value. */
sn_status lower_constant_of_shape (lower_ctx *c);
/* Transpose (perm 1,0) of a 2-D int64 constant of up to 64 elements. */
sn_status const_transpose (lower_ctx *c, const lvalue *x,
    const int64_t *perm, size_t np);
/* Reshape of an int64 constant to the dims in `shape` (0 copies, -1 infers). */
sn_status const_reshape (lower_ctx *c, const lvalue *x, const lvalue *shape);
/* Slice of a 1-D or 2-D int64 constant along one axis, any step. */
sn_status const_slice (lower_ctx *c, const lvalue *x, int64_t start,
    int64_t end, int64_t axis, int64_t step);
/* Shape: the int64 vector [1][C][H][W] (or [1][C]) of an activation. */
sn_status lower_shape (lower_ctx *c);
/* Gather: 1-D index into an int64 shape constant. */
sn_status lower_gather (lower_ctx *c);
/* Output 0 is a copy of constant x (Squeeze, Cast, Identity on constants). */
sn_status lower_const_passthrough (lower_ctx *c, const lvalue *x);
/* Elementwise "Mul", "Div", "Add" or "Sub" of int64 constants (<= 16). */
sn_status lower_const_arith (lower_ctx *c, const char *op);
/* Concat of int64 constants into one vector of up to 16 elements. */
sn_status lower_const_concat (lower_ctx *c);
/* Mul/Div/Sub: shape arithmetic on constants only. */
sn_status lower_shape_arith (lower_ctx *c);
/* Cast: of constants only. */
sn_status lower_cast (lower_ctx *c);

/* lower_layout.c: the graph input and ops that move or view channels */

/* The one image input: NCHW, or NHWC [N][H][W][3] marked nhwc_raw. */
sn_status lower_graph_input (lower_ctx *c);
/* Transpose: NHWC input -> NCHW, shuffle 5-D transpose, 2-D constants. */
sn_status lower_transpose (lower_ctx *c);
/* Reshape/Flatten: channel shuffles, flatten of [C][1][1], constants. */
sn_status lower_reshape (lower_ctx *c);
/* Squeeze/Unsqueeze: shape constants, or [N][C][1][1] <-> [N][C]. */
sn_status lower_squeeze (lower_ctx *c);
/* Slice: a channel-slice view (axis 1, step 1), or a constant slice. */
sn_status lower_slice (lower_ctx *c);
/* Split: one channel-slice view per output. */
sn_status lower_split (lower_ctx *c);
/* Concat along channels: producers write at an offset, or COPY ops. */
sn_status lower_concat (lower_ctx *c);

/* lower_ops.c: the compute ops */

/* Conv: weights [Cout][Cin/groups][kh][kw] copied, bias [Cout] (0 if none). */
sn_status lower_conv (lower_ctx *c);
/* BatchNormalization folded into the weights and bias of the conv before. */
sn_status lower_batchnorm (lower_ctx *c);
/* Relu fused into the producers of its input, else a COPY with relu. */
sn_status lower_relu (lower_ctx *c);
/* Add: residual into a conv epilogue, dense bias, constants, or an ADD op. */
sn_status lower_add (lower_ctx *c);
/* MaxPool. */
sn_status lower_maxpool (lower_ctx *c);
/* AveragePool (a Pad before it counts in the divisor). */
sn_status lower_avgpool (lower_ctx *c);
/* GlobalAveragePool / ReduceMean over H, W: [N][C][H][W] -> [N][C][1][1]. */
sn_status lower_global_pool (lower_ctx *c);
/* Gemm/MatMul classifier: [N][C] features x weight [K][C] -> [N][K]. */
sn_status lower_dense (lower_ctx *c);
/* Softmax over the class scores [N][K]. */
sn_status lower_softmax (lower_ctx *c);
/* Pad with zeros around H, W: an LV_PADDED view for the next Conv/pool. */
sn_status lower_pad (lower_ctx *c);
/* Identity/Dropout: the output is the input. */
sn_status lower_identity (lower_ctx *c);

#pragma GCC visibility pop

#endif /* SN_LOWER_INTERNAL_H */
