/* lower_handlers.h - the node handlers of the ONNX lowering, one per op
 * family: lower_const.c (constants, shape arithmetic), lower_layout.c
 * (graph input, transposes, reshapes, slices, concats; it also folds
 * constants through lower_const.c) and lower_ops.c (compute ops). The
 * driver (lower.c) calls them for each node; they build the IR through
 * lower_ctx.h's helpers and never call the driver.
 *
 * Engine-private, not installed. */
#ifndef SN_LOWER_HANDLERS_H
#define SN_LOWER_HANDLERS_H

#include "lower_ctx.h"

#pragma GCC visibility push (hidden)

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

#endif /* SN_LOWER_HANDLERS_H */
