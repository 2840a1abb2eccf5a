/* lower_layout.c - ops that move or view channels rather than compute.
 *
 * The graph input (NCHW, or NHWC followed by Transpose perm 0,3,1,2), the
 * channel shuffle Reshape [N][a][b][H][W] -> Transpose(0,2,1,3,4) -> Reshape
 * (a permutation of the producers' out_map), Flatten/Squeeze of pooled
 * features, Slice/Split as channel-slice views, and Concat (producers write at
 * a channel offset; per-group convs are merged into one grouped conv).
 */
#include "lower_handlers.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* the graph input and its NHWC transpose */

sn_status
lower_graph_input (lower_ctx *c)
{
  const Onnx__GraphProto *gp = c->gp;
  const Onnx__ValueInfoProto *in = NULL;
  for (size_t k = 0; k < gp->n_input; k++) {
    bool is_init = false;
    if (gp->input[k]->name == NULL)
      return sn_set_error (c->err, SN_ERR_PARSE, "graph input %zu has no name",
          k);
    for (size_t j = 0; j < gp->n_initializer; j++)
      if (gp->initializer[j]->name
          && strcmp (gp->initializer[j]->name, gp->input[k]->name) == 0)
        is_init = true;
    if (is_init)
      continue;
    if (in)
      return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
          "the graph has several inputs ('%s', '%s'); expected one image "
          "input", in->name, gp->input[k]->name);
    in = gp->input[k];
  }
  if (in == NULL || in->name == NULL || in->type == NULL
      || in->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || in->type->tensor_type->shape == NULL)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "the graph has no image input with a known tensor shape");
  const Onnx__TypeProto__Tensor *tt = in->type->tensor_type;
  if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "input '%s' has element type %d; expected float32", in->name,
        (int) tt->elem_type);
  if (tt->shape->n_dim != 4)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "input '%s' has rank %zu; expected 4 (NCHW or NHWC)", in->name,
        tt->shape->n_dim);
  int64_t d[4];
  for (int k = 1; k < 4; k++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[k];
    if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
        || dim->dim_value < 1 || dim->dim_value > 16384)
      return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
          "input '%s' dimension %d is not a fixed size in 1..16384", in->name,
          k);
    d[k] = dim->dim_value;
  }
  bool nhwc = d[1] != 3 && d[3] == 3;
  sn_input_info *info = &c->info->input;
  info->channels = (int) (nhwc ? d[3] : d[1]);
  info->height = (int) (nhwc ? d[1] : d[2]);
  info->width = (int) (nhwc ? d[2] : d[3]);
  info->layout = nhwc ? SN_LAYOUT_NHWC : SN_LAYOUT_NCHW;
  if (info->channels != 3)
    return sn_set_error (c->err, SN_ERR_UNSUPPORTED,
        "input '%s' has %d channels; expected 3 (an image)", in->name,
        info->channels);
  int v = sn_graph_add_value (c->g, info->channels, info->height, info->width);
  lvalue *x = lv_new (c, in->name, LV_TENSOR);
  if (v < 0 || x == NULL)
    return sn_set_error (c->err, SN_ERR_NOMEM, "out of memory");
  x->value = v;
  x->nhwc_raw = nhwc;
  c->g->input_value = v;
  val (c, v)->external = !nhwc;
  return SN_OK;
}

static bool
perm_is (const int64_t *perm, size_t n, const int64_t *want, size_t wn)
{
  if (n != wn)
    return false;
  for (size_t k = 0; k < n; k++)
    if (perm[k] != want[k])
      return false;
  return true;
}

sn_status
lower_transpose (lower_ctx *c)
{
  static const int64_t nhwc_to_nchw[4] = { 0, 3, 1, 2 };
  static const int64_t swap_groups[5] = { 0, 2, 1, 3, 4 };
  lvalue *x, *o;
  sn_status s = input_lv (c, 0, &x);
  if (s != SN_OK)
    return s;
  const int64_t *perm;
  size_t np = sn_attr_ints (c->node, "perm", &perm);
  if (x->kind == LV_CONST)
    return const_transpose (c, x, perm, np);
  if (x->kind == LV_TENSOR && x->nhwc_raw
      && perm_is (perm, np, nhwc_to_nchw, 4)) {
    sn_value *in = val (c, x->value);
    int v = sn_graph_add_value (c->g, in->c, in->h, in->w);
    if (v < 0 || add_op (c, SN_OP_INPUT_NHWC, x->value, v, in->c) == NULL)
      return oom (c);
    return new_tensor_output (c, v, 4);
  }
  if (x->kind == LV_SHUFFLE5D && !x->shuf_transposed
      && perm_is (perm, np, swap_groups, 5)) {
    if ((s = new_output (c, 0, LV_SHUFFLE5D, &o)) != SN_OK)
      return s;
    o->value = x->value;
    o->shuf_a = x->shuf_b;
    o->shuf_b = x->shuf_a;
    o->shuf_transposed = true;
    o->uses += x->uses - 1;
    return SN_OK;
  }
  return NODE_ERR (c, SN_ERR_UNSUPPORTED,
      "only the NHWC input transpose (perm 0,3,1,2) and the channel shuffle "
      "transpose (perm 0,2,1,3,4) are supported");
}

/* ------------------------------------------------------------------------ */
/* Reshape / Flatten: channel shuffles and flattening of [C][1][1] */

/* Resolve an ONNX reshape target against the input dims (0 copies, -1 infers). */
static sn_status
resolve_reshape (lower_ctx *c, const int64_t *in_dims, int in_rank,
    const int64_t *target, int64_t n, int64_t *out)
{
  int64_t total = 1, known = 1;
  int infer = -1;
  for (int k = 0; k < in_rank; k++)
    total *= in_dims[k];
  for (int64_t k = 0; k < n; k++) {
    out[k] = target[k];
    if (out[k] == 0 && k < in_rank)
      out[k] = in_dims[k];
    if (out[k] == -1) {
      if (infer >= 0)
        return NODE_ERR (c, SN_ERR_PARSE, "two -1 in the reshape target");
      infer = (int) k;
      continue;
    }
    if (out[k] <= 0 || out[k] > SN_MAX_ELEMENTS
        || known * out[k] > SN_MAX_ELEMENTS)
      return NODE_ERR (c, SN_ERR_PARSE, "bad reshape dimension %lld",
          (long long) out[k]);
    known *= out[k];
  }
  if (infer >= 0)
    out[infer] = known ? total / known : 0;
  if (infer >= 0 ? known * out[infer] != total : known != total) {
    /* The batch may be baked into the target as 1: compare per image. */
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "reshape to %lld elements of a tensor of %lld",
        (long long) (infer >= 0 ? known * out[infer] : known),
        (long long) total);
  }
  return SN_OK;
}

/* Apply the permutation dst plane k <- src channel perm_src[k] to value v:
 * fold it into v's producers when v has no other reader, else copy. */
static sn_status
apply_channel_permutation (lower_ctx *c, const lvalue *x, const int *perm_src)
{
  int v = x->value;
  sn_value *in = val (c, v);
  int n = in->c;
  int *inv = malloc (sizeof (int) * n);
  if (inv == NULL)
    return oom (c);
  for (int k = 0; k < n; k++)
    inv[perm_src[k]] = k;
  sn_status s = SN_OK;
  if (x->uses == 1 && has_producer (c, v) && in->alias_of < 0) {
    for (int i = 0; i < c->g->n_ops; i++) {
      sn_op *op = &c->g->ops[i];
      if (op->out == v)
        for (int k = 0; k < op->out_channels; k++)
          op->out_map[k] = inv[op->out_map[k]];
    }
    s = new_tensor_output (c, v, 4);
  } else {
    int dst = sn_graph_add_value (c->g, n, in->h, in->w);
    if (dst < 0)
      s = oom (c);
    else if ((s = emit_copy (c, v, 0, dst, inv, n)) == SN_OK)
      s = new_tensor_output (c, dst, 4);
  }
  free (inv);
  return s;
}

static sn_status
reshape_shuffled (lower_ctx *c, const lvalue *x, const int64_t *dims, int64_t n)
{
  sn_value *in = val (c, x->value);
  if (n != 4 || dims[1] != in->c || dims[2] != in->h || dims[3] != in->w)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "a channel shuffle must reshape back to [N][%d][%d][%d]", in->c,
        in->h, in->w);
  /* After the transpose the 5-D tensor is [N][a][b][H][W] where input channel
   * j*a + i sits at (i, j): output channel i*b + j = input channel j*a + i. */
  int a = x->shuf_a, b = x->shuf_b;
  int *src = malloc (sizeof (int) * in->c);
  if (src == NULL)
    return oom (c);
  for (int i = 0; i < a; i++)
    for (int j = 0; j < b; j++)
      src[i * b + j] = j * a + i;
  sn_status s = apply_channel_permutation (c, x, src);
  free (src);
  return s;
}

static sn_status
reshape_tensor (lower_ctx *c, lvalue *x, const int64_t *target, int64_t n)
{
  sn_value *in = val (c, x->value);
  int64_t in_dims[4] = { 1, in->c, in->h, in->w };
  int in_rank = x->view_rank;
  if (in_rank == 2)
    in_dims[1] = in->c;
  int64_t dims[6];
  if (n < 2 || n > 6)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "reshape to rank %lld",
        (long long) n);
  /* The batch dimension may be literal: reshape one image's worth. */
  int64_t t[6];
  memcpy (t, target, sizeof (int64_t) * n);
  if (t[0] > 0)
    t[0] = 1;
  sn_status s = resolve_reshape (c, in_dims, in_rank, t, n, dims);
  if (s != SN_OK)
    return s;
  if (x->kind == LV_SHUFFLE5D)
    return x->shuf_transposed ? reshape_shuffled (c, x, dims, n)
        : NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "5-D reshape not followed by the shuffle transpose");
  if (n == 5 && dims[3] == in->h && dims[4] == in->w
      && dims[1] * dims[2] == in->c) {
    lvalue *o;
    if ((s = new_output (c, 0, LV_SHUFFLE5D, &o)) != SN_OK)
      return s;
    o->value = x->value;
    o->shuf_a = (int) dims[1];
    o->shuf_b = (int) dims[2];
    o->uses += x->uses - 1;
    return SN_OK;
  }
  if (n == 2 && in->h == 1 && in->w == 1)
    return new_tensor_output (c, x->value, 2);
  if (n == 4 && dims[1] == in->c && dims[2] == in->h && dims[3] == in->w)
    return new_tensor_output (c, x->value, 4);
  return NODE_ERR (c, SN_ERR_UNSUPPORTED,
      "reshape of [%d][%d][%d] to a rank-%lld shape that is neither a channel "
      "shuffle nor a flatten of pooled features", in->c, in->h, in->w,
      (long long) n);
}

sn_status
lower_reshape (lower_ctx *c)
{
  lvalue *x, *shape;
  sn_status s;
  if ((s = input_lv (c, 0, &x)))
    return s;
  if (x->kind == LV_CONST && strcmp (c->node->op_type, "Reshape") == 0
      && (s = input_lv (c, 1, &shape)) == SN_OK)
    return const_reshape (c, x, shape);
  if (x->kind == LV_CONST)
    return lower_const_passthrough (c, x);
  if (x->kind != LV_TENSOR && x->kind != LV_SHUFFLE5D)
    return require_tensor (c, x);
  if (x->nhwc_raw)
    return require_tensor (c, x);
  if (strcmp (c->node->op_type, "Flatten") == 0) {
    int64_t axis = sn_attr_int (c->node, "axis", 1);
    int64_t t[2] = { 1, -1 };
    if (axis != 1)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "Flatten axis %lld",
          (long long) axis);
    return reshape_tensor (c, x, t, 2);
  }
  if ((s = input_lv (c, 1, &shape)) || (s = require_const (c, shape, false)))
    return s;
  return reshape_tensor (c, x, shape->i, shape->numel);
}

/* Squeeze/Unsqueeze: shape constants, or [N][C][1][1] <-> [N][C]. */
sn_status
lower_squeeze (lower_ctx *c)
{
  lvalue *x;
  sn_status s = input_lv (c, 0, &x);
  if (s != SN_OK)
    return s;
  if (x->kind == LV_CONST)
    return lower_const_passthrough (c, x);
  if ((s = require_tensor (c, x)) != SN_OK)
    return s;
  sn_value *in = val (c, x->value);
  if (in->h != 1 || in->w != 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "(un)squeeze of a spatial tensor");
  bool squeeze = strcmp (c->node->op_type, "Squeeze") == 0;
  return new_tensor_output (c, x->value, squeeze ? 2 : 4);
}

/* ------------------------------------------------------------------------ */
/* Slice / Split (channel slices) and Concat */

static sn_status
new_slice_output (lower_ctx *c, size_t k, const lvalue *x, int start, int end)
{
  lvalue *o;
  sn_status s = new_output (c, k, LV_SLICE, &o);
  if (s != SN_OK)
    return s;
  int base = x->kind == LV_SLICE ? x->slice_start : 0;
  o->value = x->value;
  o->slice_start = base + start;
  o->slice_end = base + end;
  return SN_OK;
}

/* Read Slice's starts/ends/axes/steps from inputs (opset >= 10) or attrs. */
static sn_status
slice_params (lower_ctx *c, int64_t *start, int64_t *end, int64_t *axis,
    int64_t *step)
{
  const int64_t *a;
  *step = 1;
  *axis = 0;
  if (c->node->n_input >= 3) {
    lvalue *p[5] = { NULL };
    sn_status s;
    for (size_t k = 1; k < c->node->n_input && k < 5; k++)
      if (c->node->input[k][0] && ((s = input_lv (c, k, &p[k]))
              || (s = require_const (c, p[k], false))))
        return s;
    if (p[1] == NULL || p[2] == NULL)
      return NODE_ERR (c, SN_ERR_PARSE, "Slice without starts or ends");
    for (int k = 1; k < 5; k++)
      if (p[k] && p[k]->numel != 1)
        return NODE_ERR (c, SN_ERR_UNSUPPORTED, "multi-axis slice");
    *start = p[1]->i[0];
    *end = p[2]->i[0];
    if (p[3])
      *axis = p[3]->i[0];
    if (p[4])
      *step = p[4]->i[0];
    return SN_OK;
  }
  if (sn_attr_ints (c->node, "starts", &a) != 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "multi-axis slice");
  *start = a[0];
  sn_attr_ints (c->node, "ends", &a);
  *end = a ? a[0] : INT64_MAX;
  if (sn_attr_ints (c->node, "axes", &a) == 1)
    *axis = a[0];
  return SN_OK;
}

static int64_t
clamp_index (int64_t i, int64_t n)
{
  if (i < 0)
    i += n;
  return i < 0 ? 0 : i > n ? n : i;
}

sn_status
lower_slice (lower_ctx *c)
{
  lvalue *x;
  int64_t start = 0, end = 0, axis = 0, step = 1;
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = slice_params (c, &start, &end, &axis,
              &step)))
    return s;
  if (x->kind == LV_CONST)
    return const_slice (c, x, start, end, axis, step);
  if (x->kind != LV_TENSOR && x->kind != LV_SLICE)
    return require_tensor (c, x);
  if (x->nhwc_raw)
    return require_tensor (c, x);
  int n = x->kind == LV_SLICE ? x->slice_end - x->slice_start
      : val (c, x->value)->c;
  if ((axis != 1 && axis != -3) || step != 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "only channel slices (axis 1, step 1) are supported");
  start = clamp_index (start, n);
  end = clamp_index (end, n);
  if (end <= start)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "empty channel slice");
  return new_slice_output (c, 0, x, (int) start, (int) end);
}

sn_status
lower_split (lower_ctx *c)
{
  lvalue *x;
  sn_status s = input_lv (c, 0, &x);
  if (s != SN_OK)
    return s;
  if (x->kind != LV_TENSOR || x->nhwc_raw)
    return require_tensor (c, x);
  int64_t axis = sn_attr_int (c->node, "axis", 0);
  if (axis != 1 && axis != -3)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "only channel splits (axis 1)");
  int channels = val (c, x->value)->c;
  const int64_t *sizes = NULL;
  size_t ns = sn_attr_ints (c->node, "split", &sizes);
  lvalue *sp = NULL;
  if (ns == 0 && c->node->n_input > 1 && c->node->input[1][0]) {
    if ((s = input_lv (c, 1, &sp)) || (s = require_const (c, sp, false)))
      return s;
    sizes = sp->i;
    ns = (size_t) sp->numel;
  }
  size_t outs = c->node->n_output;
  if (outs == 0 || (ns && ns != outs) || (!ns && channels % (int) outs))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "split sizes do not match");
  int start = 0;
  for (size_t k = 0; k < outs; k++) {
    int64_t len = ns ? sizes[k] : channels / (int) outs;
    if (len <= 0 || start + len > channels)
      return NODE_ERR (c, SN_ERR_PARSE, "split sizes exceed the channels");
    if ((s = new_slice_output (c, k, x, start, start + (int) len)))
      return s;
    start += (int) len;
  }
  return start == channels ? SN_OK
      : NODE_ERR (c, SN_ERR_PARSE, "split sizes do not cover the channels");
}

/* Concat of per-group convs reading consecutive slices of one tensor: merge
 * them into one grouped conv. Returns true when merged. */
static bool
try_merge_group_convs (lower_ctx *c, lvalue **in, int n, int out_value)
{
  int first = -1;
  sn_op *op0 = NULL;
  for (int k = 0; k < n; k++) {
    int idx = -1;
    sn_op *op = sole_producer (c, in[k]->value, &idx);
    if (op == NULL || op->kind != SN_OP_CONV || in[k]->uses != 1
        || op->res >= 0 || op->relu)
      return false;
    if (k == 0) {
      op0 = op;
      first = idx;
    } else if (idx != first + k || op->in != op0->in
        || op->in_offset != op0->in_offset + k * op0->in_channels
        || op->in_channels != op0->in_channels || op->groups != op0->groups
        || op->out_channels != op0->out_channels || op->kh != op0->kh
        || op->kw != op0->kw || op->stride_h != op0->stride_h
        || op->stride_w != op0->stride_w || op->pad_t != op0->pad_t
        || op->pad_l != op0->pad_l || op->pad_b != op0->pad_b
        || op->pad_r != op0->pad_r) {
      return false;
    }
  }
  /* Concatenate weights and biases into op0; drop the other ops. */
  int cout_each = op0->out_channels;
  size_t wsize = (size_t) cout_each * (op0->in_channels / op0->groups)
      * op0->kh * op0->kw;
  float *w = malloc (sizeof (float) * wsize * n);
  float *b = malloc (sizeof (float) * cout_each * n);
  int *map = malloc (sizeof (int) * cout_each * n);
  if (!w || !b || !map) {
    free (w);
    free (b);
    free (map);
    return false;
  }
  for (int k = 0; k < n; k++) {
    sn_op *op = &c->g->ops[first + k];
    memcpy (w + wsize * k, op->weight, sizeof (float) * wsize);
    memcpy (b + cout_each * k, op->bias, sizeof (float) * cout_each);
  }
  for (int k = 0; k < cout_each * n; k++)
    map[k] = k;
  sn_op merged = *op0;
  merged.groups = op0->groups * n;
  merged.in_channels = op0->in_channels * n;
  merged.out_channels = cout_each * n;
  merged.weight = w;
  merged.bias = b;
  merged.out_map = map;
  merged.out = out_value;
  merged.macs = op0->macs * n;
  for (int k = 0; k < n; k++) {
    sn_op *op = &c->g->ops[first + k];
    free (op->weight);
    free (op->bias);
    free (op->out_map);
  }
  c->g->ops[first] = merged;
  memmove (&c->g->ops[first + 1], &c->g->ops[first + n],
      sizeof (sn_op) * (c->g->n_ops - first - n));
  c->g->n_ops -= n - 1;
  return true;
}

sn_status
lower_concat (lower_ctx *c)
{
  size_t n = c->node->n_input;
  lvalue *first;
  sn_status s = input_lv (c, 0, &first);
  if (s != SN_OK)
    return s;
  if (first->kind == LV_CONST)
    return lower_const_concat (c);
  int64_t axis = sn_attr_int (c->node, "axis", 1);
  if (axis != 1 && axis != -3 && !(first->view_rank == 2 && axis == -1))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "only channel concat (axis 1)");
  lvalue **in = calloc (n, sizeof (lvalue *));
  if (in == NULL)
    return oom (c);
  int total = 0, h = 0, w = 0;
  for (size_t k = 0; k < n && s == SN_OK; k++) {
    if ((s = input_lv (c, k, &in[k])) || (s = materialize (c, in[k])))
      break;
    sn_value *v = val (c, in[k]->value);
    if (k == 0) {
      h = v->h;
      w = v->w;
    } else if (v->h != h || v->w != w) {
      s = NODE_ERR (c, SN_ERR_PARSE, "concat of %dx%d and %dx%d maps", h, w,
          v->h, v->w);
    }
    total += v->c;
  }
  int out = s == SN_OK ? sn_graph_add_value (c->g, total, h, w) : -1;
  if (s == SN_OK && out < 0)
    s = oom (c);
  if (s == SN_OK && !try_merge_group_convs (c, in, (int) n, out)) {
    int offset = 0;
    for (size_t k = 0; k < n && s == SN_OK; k++) {
      int v = in[k]->value;
      sn_value *iv = val (c, v);
      if (in[k]->uses == 1 && has_producer (c, v) && iv->alias_of < 0) {
        for (int i = 0; i < c->g->n_ops; i++) {
          sn_op *op = &c->g->ops[i];
          if (op->out != v)
            continue;
          op->out = out;
          for (int j = 0; j < op->out_channels; j++)
            op->out_map[j] += offset;
        }
        iv->alias_of = out;
        iv->alias_offset = offset;
      } else {
        int *map = malloc (sizeof (int) * iv->c);
        if (map == NULL) {
          s = oom (c);
          break;
        }
        for (int j = 0; j < iv->c; j++)
          map[j] = offset + j;
        s = emit_copy (c, v, 0, out, map, iv->c);
        free (map);
      }
      offset += iv->c;
    }
  }
  free (in);
  return s == SN_OK ? new_tensor_output (c, out, first->view_rank) : s;
}
