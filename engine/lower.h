/* lower.h - ONNX graph -> sn_graph (the model loading layer). */
#ifndef SN_LOWER_H
#define SN_LOWER_H

#include "ir.h"
#include "onnx_graph.h"

/* Lower `model` into `g` (empty on entry), folding BatchNorm, ReLU, residual
 * adds, grouped Slice/Conv/Concat, concats and channel shuffles, and pack
 * pointwise weights for kernel table `kt`. On failure g is cleared and err
 * names the node and op that could not be handled. */
sn_status sn_lower_onnx (const Onnx__ModelProto *model,
    const sn_kernel_table *kt, sn_graph *g, sn_lowered_info *info,
    sn_error *err);

#endif /* SN_LOWER_H */
