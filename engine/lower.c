/* lower.c - lower an ONNX ShuffleNet graph to the engine's operator list.
 *
 * Nodes are visited in file order (ONNX requires topological order). Each
 * ONNX value name maps to an `lvalue`: a constant, an activation tensor (an
 * IR value), or a pending view that only some consumers accept (a channel
 * slice, the 5-D reshape of a channel shuffle). Producers are rewritten in
 * place when a consumer can be folded into them:
 *   BatchNormalization -> the conv's weights and bias
 *   Relu               -> the producers' epilogue
 *   Add (residual)     -> the conv's epilogue (res_map)
 *   Concat             -> the producers write at a channel offset (out_map)
 *   Reshape/Transpose/Reshape shuffle -> a permutation of out_map
 *   Slice/Split -> Conv per group -> Concat -> one grouped conv
 * Anything that is not ShuffleNet v1 is refused, naming the node and op.
 *
 * This file is the driver: it calls each node's handler (lower_handlers.h:
 * lower_const.c folds constants and shape arithmetic, lower_layout.c the
 * graph input, transposes, reshapes, slices and concats, lower_ops.c the
 * compute ops). The driver and the handlers build the IR through
 * lower_ctx.c's helpers (lower_ctx.h), which call neither.
 */
#include "lower_handlers.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* the driver */

typedef sn_status (*lower_fn) (lower_ctx *c);

static const struct {
  const char *op;
  lower_fn fn;
} lowerers[] = {
  { "Constant", lower_constant }, { "Shape", lower_shape },
  { "Gather", lower_gather }, { "Unsqueeze", lower_squeeze },
  { "Squeeze", lower_squeeze }, { "Cast", lower_cast },
  { "Mul", lower_shape_arith }, { "Div", lower_shape_arith },
  { "Sub", lower_shape_arith }, { "Add", lower_add },
  { "Identity", lower_identity }, { "Dropout", lower_identity },
  { "Transpose", lower_transpose }, { "Reshape", lower_reshape },
  { "Flatten", lower_reshape }, { "Slice", lower_slice },
  { "Split", lower_split }, { "Concat", lower_concat },
  { "Conv", lower_conv }, { "BatchNormalization", lower_batchnorm },
  { "Relu", lower_relu }, { "MaxPool", lower_maxpool },
  { "AveragePool", lower_avgpool }, { "GlobalAveragePool", lower_global_pool },
  { "ReduceMean", lower_global_pool }, { "Gemm", lower_dense },
  { "MatMul", lower_dense }, { "Softmax", lower_softmax },
  { "Pad", lower_pad }, { "ConstantOfShape", lower_constant_of_shape },
};

static sn_status
lower_node (lower_ctx *c, const Onnx__NodeProto *node)
{
  c->node = node;
  if (node->op_type == NULL || node->n_output == 0)
    return NODE_ERR (c, SN_ERR_PARSE, "node without op type or output");
  if (node->domain && node->domain[0] && strcmp (node->domain, "ai.onnx"))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "operator domain '%s' is not "
        "supported", node->domain);
  for (size_t k = 0; k < sizeof lowerers / sizeof lowerers[0]; k++)
    if (strcmp (node->op_type, lowerers[k].op) == 0)
      return lowerers[k].fn (c);
  return NODE_ERR (c, SN_ERR_UNSUPPORTED,
      "operator %s is not supported by this ShuffleNet v1 engine",
      node->op_type);
}

static sn_status
lower_initializers (lower_ctx *c)
{
  for (size_t k = 0; k < c->gp->n_initializer; k++) {
    const Onnx__TensorProto *t = c->gp->initializer[k];
    if (t->name == NULL)
      return sn_set_error (c->err, SN_ERR_PARSE, "initializer without name");
    lvalue *o = lv_new (c, t->name, LV_CONST);
    if (o == NULL)
      return sn_set_error (c->err, SN_ERR_NOMEM, "out of memory");
    if (o->uses == 0)
      continue;   /* unused weights are not read */
    sn_status s = store_const_tensor (c, o, t);
    if (s != SN_OK)
      return s;
  }
  return SN_OK;
}

static sn_status
finish_output (lower_ctx *c)
{
  c->node = NULL;
  if (c->gp->n_output != 1 || c->gp->output[0]->name == NULL)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "the graph must have exactly one output (it has %zu)", c->gp->n_output);
  lvalue *o = lv_find (c, c->gp->output[0]->name);
  if (o == NULL || o->kind != LV_TENSOR || c->g->n_ops == 0)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "graph output '%s' is not a computed tensor", c->gp->output[0]->name);
  sn_value *v = val (c, o->value);
  if (v->h != 1 || v->w != 1)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "graph output '%s' is a [%d][%d][%d] map, not class scores",
        o->name, v->c, v->h, v->w);
  c->g->output_value = o->value;
  c->info->classes = v->c;
  c->info->probabilities =
      c->g->ops[c->g->n_ops - 1].kind == SN_OP_SOFTMAX
      && c->g->ops[c->g->n_ops - 1].out == o->value;
  return SN_OK;
}

/* Pack pointwise weights for the kernel table, group by group. */
static sn_status
pack_pointwise (sn_graph *g, const sn_kernel_table *kt, sn_error *err)
{
  for (int i = 0; i < g->n_ops; i++) {
    sn_op *op = &g->ops[i];
    if (op->kind != SN_OP_CONV || op->kh != 1 || op->kw != 1
        || op->stride_h != 1 || op->stride_w != 1 || op->pad_t || op->pad_l
        || op->pad_b || op->pad_r)
      continue;
    int cin = op->in_channels / op->groups, cout = op->out_channels / op->groups;
    const sn_kernel_table *pk = sn_pw_kernels (kt, cin);
    op->pw_kernels = pk;
    op->packed_group_stride = pk->pw_packed_size (cout, cin);
    op->packed = malloc (sizeof (float) * op->packed_group_stride * op->groups);
    if (op->packed == NULL)
      return sn_set_error (err, SN_ERR_NOMEM, "out of memory packing weights");
    for (int gi = 0; gi < op->groups; gi++)
      pk->pw_pack (op->weight + (size_t) gi * cout * cin, cout, cin,
          op->packed + op->packed_group_stride * gi);
  }
  return SN_OK;
}

sn_status
sn_lower_onnx (const Onnx__ModelProto *model, const sn_kernel_table *kt,
    sn_graph *g, sn_lowered_info *info, sn_error *err)
{
  lower_ctx c = { .gp = model->graph, .opset = sn_onnx_opset (model), .g = g,
    .info = info, .err = err };
  memset (info, 0, sizeof *info);
  g->input_value = g->output_value = -1;
  bool tables = lv_tables_init (&c);
  /* Values are sized once too (a node makes at most one per input plus its
   * output), so sn_value pointers held by a handler stay valid. */
  size_t n_values = c.gp->n_input + 16;
  for (size_t n = 0; n < c.gp->n_node; n++)
    n_values += c.gp->node[n]->n_input + c.gp->node[n]->n_output + 1;
  g->values = malloc (sizeof (sn_value) * n_values);
  g->cap_values = g->values ? (int) n_values : 0;
  sn_status s = tables && g->values ? SN_OK
      : sn_set_error (err, SN_ERR_NOMEM, "out of memory");
  if (s == SN_OK)
    s = lower_initializers (&c);
  if (s == SN_OK)
    s = lower_graph_input (&c);
  for (size_t n = 0; s == SN_OK && n < c.gp->n_node; n++)
    s = lower_node (&c, c.gp->node[n]);
  if (s == SN_OK)
    s = finish_output (&c);
  if (s == SN_OK)
    s = pack_pointwise (g, kt, err);
  lv_tables_free (&c);
  if (s != SN_OK)
    sn_graph_clear (g);
  return s;
}
