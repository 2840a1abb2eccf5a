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
 * This file holds the context, the value tables, the shared helpers and the
 * driver; lower_const.c folds constants and shape arithmetic, lower_layout.c
 * the graph input, transposes, reshapes, slices and concats, lower_ops.c the
 * compute ops. lower_internal.h declares what they share.
 */
#include "lower_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sn_status __attribute__ ((format (printf, 3, 4)))
node_error (lower_ctx *c, sn_status status, const char *fmt, ...)
{
  char detail[384];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (detail, sizeof detail, fmt, ap);
  va_end (ap);
  const Onnx__NodeProto *n = c->node;
  return sn_set_error (c->err, status, "node '%s' (%s): %s",
      n && n->name && n->name[0] ? n->name : "?",
      n && n->op_type ? n->op_type : "?", detail);
}

/* ------------------------------------------------------------------------ */
/* lvalue table */

/* Names are found through a hash index of the lvalue table (the latest
 * definition of a name wins) and use counts through a sorted array of every
 * name a node or the graph output reads: loading stays O(n log n) in the
 * number of nodes, whatever a file holds. */
static uint32_t
name_hash (const char *s)
{
  uint32_t h = 2166136261u;          /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 16777619u;
  return h;
}

lvalue *
lv_find (lower_ctx *c, const char *name)
{
  for (uint32_t i = name_hash (name) & c->index_mask;; i = (i + 1) & c->index_mask) {
    int k = c->index[i];
    if (k < 0)
      return NULL;
    if (strcmp (c->lv[k].name, name) == 0)
      return &c->lv[k];
  }
}

static void
lv_index_add (lower_ctx *c, int k)
{
  uint32_t i = name_hash (c->lv[k].name) & c->index_mask;
  while (c->index[i] >= 0 && strcmp (c->lv[c->index[i]].name, c->lv[k].name))
    i = (i + 1) & c->index_mask;
  c->index[i] = k;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
count_uses (const lower_ctx *c, const char *name)
{
  size_t lo = 0, hi = c->n_use_names;        /* first name >= `name` */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (strcmp (c->use_names[mid], name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  int uses = 0;
  while (lo + uses < c->n_use_names
      && strcmp (c->use_names[lo + uses], name) == 0)
    uses++;
  return uses;
}

/* Build the name index and the sorted use list; false when out of memory. */
static bool
lv_tables_init (lower_ctx *c)
{
  size_t n = c->gp->n_output;
  for (size_t k = 0; k < c->gp->n_node; k++)
    n += c->gp->node[k]->n_input;
  c->use_names = malloc (sizeof (char *) * (n + 1));
  uint32_t cap = 16;
  while (cap < 2u * (uint32_t) c->cap_lv)
    cap *= 2;
  c->index = malloc (sizeof (int) * cap);
  if (!c->use_names || !c->index)
    return false;
  c->index_mask = cap - 1;
  memset (c->index, 0xff, sizeof (int) * cap);    /* all -1 */
  for (size_t k = 0; k < c->gp->n_node; k++)
    for (size_t j = 0; j < c->gp->node[k]->n_input; j++)
      c->use_names[c->n_use_names++] = c->gp->node[k]->input[j];
  for (size_t k = 0; k < c->gp->n_output; k++)
    if (c->gp->output[k]->name)
      c->use_names[c->n_use_names++] = c->gp->output[k]->name;
  qsort (c->use_names, c->n_use_names, sizeof (char *), cmp_names);
  return true;
}

/* A new lvalue for `name`. The table is sized once for the whole graph, so
 * lvalue pointers stay valid while handlers add outputs. */
lvalue *
lv_new (lower_ctx *c, const char *name, lv_kind kind)
{
  if (c->n_lv == c->cap_lv)
    return NULL;
  lvalue *v = &c->lv[c->n_lv++];
  memset (v, 0, sizeof *v);
  v->name = name;
  lv_index_add (c, c->n_lv - 1);
  v->kind = kind;
  v->value = -1;
  v->view_rank = 4;
  v->uses = count_uses (c, name);
  return v;
}

sn_status
oom (lower_ctx *c)
{
  return NODE_ERR (c, SN_ERR_NOMEM, "out of memory");
}

/* Input k of the current node, which must exist. */
sn_status
input_lv (lower_ctx *c, size_t k, lvalue **out)
{
  const Onnx__NodeProto *n = c->node;
  if (k >= n->n_input || n->input[k][0] == '\0')
    return NODE_ERR (c, SN_ERR_PARSE, "missing input %zu", k);
  *out = lv_find (c, n->input[k]);
  if (*out == NULL)
    return NODE_ERR (c, SN_ERR_PARSE, "input '%s' is not produced before use",
        n->input[k]);
  return SN_OK;
}

static sn_status
output_name (lower_ctx *c, size_t k, const char **name)
{
  if (k >= c->node->n_output || c->node->output[k][0] == '\0')
    return NODE_ERR (c, SN_ERR_PARSE, "missing output %zu", k);
  *name = c->node->output[k];
  return SN_OK;
}

sn_status
new_output (lower_ctx *c, size_t k, lv_kind kind, lvalue **out)
{
  const char *name = NULL;
  sn_status s = output_name (c, k, &name);
  if (s != SN_OK)
    return s;
  *out = lv_new (c, name, kind);
  return *out ? SN_OK : oom (c);
}

/* An output that is the IR value `value` seen as a tensor of view_rank. */
sn_status
new_tensor_output (lower_ctx *c, int value, int view_rank)
{
  lvalue *o;
  sn_status s = new_output (c, 0, LV_TENSOR, &o);
  if (s != SN_OK)
    return s;
  o->value = value;
  o->view_rank = view_rank;
  return SN_OK;
}

sn_status
require_tensor (lower_ctx *c, const lvalue *v)
{
  if (v->kind == LV_TENSOR && !v->nhwc_raw)
    return SN_OK;
  if (v->nhwc_raw)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "reads the NHWC graph input '%s' directly (expected a Transpose "
        "perm=[0,3,1,2] first)", v->name);
  return NODE_ERR (c, SN_ERR_UNSUPPORTED,
      "input '%s' is not an activation tensor of this network", v->name);
}

sn_status
require_const (lower_ctx *c, const lvalue *v, bool is_float)
{
  if (v->kind != LV_CONST || (is_float ? v->f == NULL : v->i == NULL))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "input '%s' must be a constant %s",
        v->name, is_float ? "float tensor" : "integer tensor");
  return SN_OK;
}

/* ------------------------------------------------------------------------ */
/* IR helpers */

sn_value *
val (lower_ctx *c, int v)
{
  return &c->g->values[v];
}

/* The only op producing value v, or NULL if none or several. */
sn_op *
sole_producer (lower_ctx *c, int v, int *index)
{
  sn_op *found = NULL;
  for (int i = 0; i < c->g->n_ops; i++) {
    if (c->g->ops[i].out == v) {
      if (found)
        return NULL;
      found = &c->g->ops[i];
      if (index)
        *index = i;
    }
  }
  return found;
}

bool
has_producer (lower_ctx *c, int v)
{
  for (int i = 0; i < c->g->n_ops; i++)
    if (c->g->ops[i].out == v)
      return true;
  return false;
}

/* Index of the last op writing value v (-1 for the external input). */
int
last_producer_index (lower_ctx *c, int v)
{
  int last = -1;
  for (int i = 0; i < c->g->n_ops; i++)
    if (c->g->ops[i].out == v)
      last = i;
  return last;
}

/* An op writing `channels` planes of value `out` at identity positions. */
sn_op *
add_op (lower_ctx *c, sn_op_kind kind, int in, int out, int channels)
{
  const Onnx__NodeProto *n = c->node;
  char name[96];
  snprintf (name, sizeof name, "%s",
      n->name && n->name[0] ? n->name : n->op_type);
  sn_op *op = sn_graph_add_op (c->g, kind, name);
  if (op == NULL)
    return NULL;
  op->in = in;
  op->out = out;
  op->out_channels = channels;
  op->out_map = malloc (sizeof (int) * channels);
  if (op->out_map == NULL) {
    c->g->n_ops--;
    return NULL;
  }
  for (int k = 0; k < channels; k++)
    op->out_map[k] = k;
  return op;
}

/* A COPY op materializing channels [first, first + n) of `src` into planes
 * dst_map[0..n) of `dst`. */
sn_status
emit_copy (lower_ctx *c, int src, int first, int dst, const int *dst_map,
    int n)
{
  sn_op *op = add_op (c, SN_OP_COPY, src, dst, n);
  if (op == NULL)
    return oom (c);
  op->in_offset = first;
  for (int k = 0; k < n; k++)
    op->out_map[k] = dst_map ? dst_map[k] : k;
  return SN_OK;
}

/* Make a slice lvalue a plain tensor (a COPY into a new value). */
sn_status
materialize (lower_ctx *c, lvalue *v)
{
  if (v->kind == LV_TENSOR)
    return SN_OK;
  if (v->kind == LV_PADDED)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "reads the padded '%s': a Pad "
        "must feed a Conv or an AveragePool", v->name);
  if (v->kind != LV_SLICE)
    return require_tensor (c, v);
  sn_value *src = val (c, v->value);
  int n = v->slice_end - v->slice_start;
  int dst = sn_graph_add_value (c->g, n, src->h, src->w);
  if (dst < 0)
    return oom (c);
  sn_status s = emit_copy (c, v->value, v->slice_start, dst, NULL, n);
  if (s != SN_OK)
    return s;
  v->kind = LV_TENSOR;
  v->value = dst;
  return SN_OK;
}

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
  c.cap_lv = (int) (c.gp->n_initializer + c.gp->n_input + 1);
  for (size_t n = 0; n < c.gp->n_node; n++)
    c.cap_lv += (int) c.gp->node[n]->n_output;
  c.lv = calloc (c.cap_lv, sizeof (lvalue));
  /* Values are sized once too (a node makes at most one per input plus its
   * output), so sn_value pointers held by a handler stay valid. */
  size_t n_values = c.gp->n_input + 16;
  for (size_t n = 0; n < c.gp->n_node; n++)
    n_values += c.gp->node[n]->n_input + c.gp->node[n]->n_output + 1;
  g->values = malloc (sizeof (sn_value) * n_values);
  g->cap_values = g->values ? (int) n_values : 0;
  sn_status s = c.lv && g->values && lv_tables_init (&c) ? SN_OK
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
  for (int k = 0; k < c.n_lv; k++) {
    free (c.lv[k].f);
    free (c.lv[k].i);
  }
  free (c.lv);
  free (c.index);
  free (c.use_names);
  if (s != SN_OK)
    sn_graph_clear (g);
  return s;
}
