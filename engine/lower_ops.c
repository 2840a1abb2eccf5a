/* lower_ops.c - the compute ops of ShuffleNet v1.
 *
 * Conv (window and padding resolution, weights copied from the model),
 * BatchNormalization folded into the conv, Relu and the residual Add fused
 * into the producers' epilogues, Max/Average pools, global pooling, the
 * Gemm/MatMul classifier, Softmax, Pad (absorbed by the next Conv or
 * AveragePool) and Identity/Dropout.
 */
#include "lower_handlers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Conv, BatchNormalization, Relu, Add */

/* The window of a conv or pool op: kernel, strides and explicit pads
 * (top, left, bottom, right) as resolve_window returned them. */
static void
set_window (sn_op *op, int kh, int kw, int sh, int sw, const int pads[4])
{
  op->kh = kh;
  op->kw = kw;
  op->stride_h = sh;
  op->stride_w = sw;
  op->pad_t = pads[0];
  op->pad_l = pads[1];
  op->pad_b = pads[2];
  op->pad_r = pads[3];
}

/* Explicit pads from `pads` or auto_pad. ceil_mode for pools. Returns the
 * output size through out_h/out_w (>= 1) or an error. */
static sn_status
resolve_window (lower_ctx *c, int in_h, int in_w, int kh, int kw, int sh,
    int sw, const int *extra, int *pads, int *out_h, int *out_w)
{
  char buf[32];
  const char *auto_pad = sn_attr_string (c->node, "auto_pad", "NOTSET", buf,
      sizeof buf);
  bool ceil_mode = sn_attr_int (c->node, "ceil_mode", 0) != 0;
  int in[2] = { in_h, in_w }, k[2] = { kh, kw }, st[2] = { sh, sw }, out[2];
  const int64_t *p;
  size_t np = sn_attr_ints (c->node, "pads", &p);
  if (np != 0 && np != 4)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "pads has %zu values", np);
  if (extra && strcmp (auto_pad, "NOTSET") != 0)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "a Pad before auto_pad %s",
        auto_pad);
  for (int d = 0; d < 2; d++) {
    if (strcmp (auto_pad, "SAME_UPPER") == 0
        || strcmp (auto_pad, "SAME_LOWER") == 0) {
      out[d] = (in[d] + st[d] - 1) / st[d];
      int total = (out[d] - 1) * st[d] + k[d] - in[d];
      total = total > 0 ? total : 0;
      int small = total / 2, big = total - small;
      bool upper = auto_pad[5] == 'U';
      pads[d] = upper ? small : big;
      pads[d + 2] = upper ? big : small;
      continue;
    }
    if (strcmp (auto_pad, "VALID") == 0) {
      pads[d] = pads[d + 2] = 0;
    } else if (strcmp (auto_pad, "NOTSET") == 0) {
      pads[d] = (np ? (int) p[d] : 0) + (extra ? extra[d] : 0);
      pads[d + 2] = (np ? (int) p[d + 2] : 0) + (extra ? extra[d + 2] : 0);
    } else {
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "auto_pad %s", auto_pad);
    }
    if (pads[d] < 0 || pads[d + 2] < 0 || pads[d] >= k[d] || pads[d + 2] >= k[d])
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "pads must be in [0, kernel)");
    int span = in[d] + pads[d] + pads[d + 2] - k[d];
    if (span < 0)
      return NODE_ERR (c, SN_ERR_PARSE, "%dx%d window larger than the padded "
          "%dx%d input", kh, kw, in_h, in_w);
    out[d] = (ceil_mode ? (span + st[d] - 1) / st[d] : span / st[d]) + 1;
    if (ceil_mode && (out[d] - 1) * st[d] >= in[d] + pads[d])
      out[d]--;   /* the last window must start inside the input or top pad */
  }
  *out_h = out[0];
  *out_w = out[1];
  return SN_OK;
}

static sn_status
read_hw_attr (lower_ctx *c, const char *name, int dflt, int *h, int *w)
{
  const int64_t *v;
  size_t n = sn_attr_ints (c->node, name, &v);
  *h = *w = dflt;
  if (n == 0)
    return SN_OK;
  if (n != 2 || v[0] < 1 || v[1] < 1 || v[0] > 64 || v[1] > 64)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "%s must be two values in 1..64",
        name);
  *h = (int) v[0];
  *w = (int) v[1];
  return SN_OK;
}

/* The activation a conv reads: a tensor, a channel slice of one, or a
 * zero-padded one (*extra_pads then points at its pads). */
static sn_status
conv_input (lower_ctx *c, lvalue *x, int *value, int *offset, int *channels,
    const int **extra_pads)
{
  *extra_pads = NULL;
  if (x->kind == LV_PADDED) {
    *value = x->value;
    *offset = 0;
    *channels = val (c, x->value)->c;
    *extra_pads = x->pad;
    return SN_OK;
  }
  if (x->kind == LV_SLICE) {
    *value = x->value;
    *offset = x->slice_start;
    *channels = x->slice_end - x->slice_start;
    return SN_OK;
  }
  sn_status s = require_tensor (c, x);
  if (s == SN_OK && x->view_rank != 4)
    s = NODE_ERR (c, SN_ERR_UNSUPPORTED, "conv of a flattened tensor");
  *value = x->value;
  *offset = 0;
  *channels = s == SN_OK ? val (c, x->value)->c : 0;
  return s;
}

static sn_status
conv_weights (lower_ctx *c, sn_op *op, lvalue *w, lvalue *b, int cout)
{
  size_t wn = (size_t) cout * (op->in_channels / op->groups) * op->kh * op->kw;
  op->weight = malloc (sizeof (float) * wn);
  op->bias = calloc (cout, sizeof (float));
  if (!op->weight || !op->bias)
    return oom (c);
  memcpy (op->weight, w->f, sizeof (float) * wn);
  if (b) {
    if (b->kind != LV_CONST || !b->f || b->numel != cout)
      return NODE_ERR (c, SN_ERR_PARSE, "bias must be %d constant floats",
          cout);
    memcpy (op->bias, b->f, sizeof (float) * cout);
  }
  return SN_OK;
}

sn_status
lower_conv (lower_ctx *c)
{
  lvalue *x, *w, *b = NULL;
  int in_v, in_off, cin, sh, sw, dh, dw;
  const int *extra;
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = input_lv (c, 1, &w))
      || (s = require_const (c, w, true))
      || (c->node->n_input > 2 && c->node->input[2][0]
          && (s = input_lv (c, 2, &b)))
      || (s = conv_input (c, x, &in_v, &in_off, &cin, &extra))
      || (s = read_hw_attr (c, "strides", 1, &sh, &sw))
      || (s = read_hw_attr (c, "dilations", 1, &dh, &dw)))
    return s;
  int64_t groups = sn_attr_int (c->node, "group", 1);
  if (dh != 1 || dw != 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "dilated convolution");
  if (w->rank != 4 || groups < 1 || cin % groups != 0
      || w->dims[1] * groups != cin || w->dims[0] % groups != 0
      || w->dims[2] < 1 || w->dims[2] > 15 || w->dims[3] < 1 || w->dims[3] > 15)
    return NODE_ERR (c, SN_ERR_PARSE, "weight shape [%lld][%lld][%lld][%lld] "
        "does not fit %d input channels in %lld groups",
        (long long) w->dims[0], (long long) w->dims[1], (long long) w->dims[2],
        (long long) w->dims[3], cin, (long long) groups);
  sn_value *in = val (c, in_v);
  int cout = (int) w->dims[0], kh = (int) w->dims[2], kw = (int) w->dims[3];
  int pads[4], oh, ow;
  if ((s = resolve_window (c, in->h, in->w, kh, kw, sh, sw, extra, pads, &oh,
              &ow)))
    return s;
  int out = sn_graph_add_value (c->g, cout, oh, ow);
  sn_op *op = out >= 0 ? add_op (c, SN_OP_CONV, in_v, out, cout) : NULL;
  if (op == NULL)
    return oom (c);
  op->in_offset = in_off;
  op->in_channels = cin;
  op->groups = (int) groups;
  set_window (op, kh, kw, sh, sw, pads);
  op->macs = (double) cout * oh * ow * (cin / groups) * kh * kw;
  if ((s = conv_weights (c, op, w, b, cout)))
    return s;
  return new_tensor_output (c, out, 4);
}

sn_status
lower_batchnorm (lower_ctx *c)
{
  lvalue *x, *p[5];
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = require_tensor (c, x)))
    return s;
  for (int k = 1; k < 5; k++)
    if ((s = input_lv (c, k, &p[k])) || (s = require_const (c, p[k], true)))
      return s;
  int channels = val (c, x->value)->c;
  for (int k = 1; k < 5; k++)
    if (p[k]->numel != channels)
      return NODE_ERR (c, SN_ERR_PARSE, "parameter '%s' has %lld values for "
          "%d channels", p[k]->name, (long long) p[k]->numel, channels);
  sn_op *op = sole_producer (c, x->value, NULL);
  if (op == NULL || op->kind != SN_OP_CONV || x->uses != 1 || op->relu
      || op->res >= 0)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "BatchNormalization must directly follow a Conv whose output it alone "
        "reads");
  float eps = sn_attr_float (c->node, "epsilon", 1e-5f);
  const float *gamma = p[1]->f, *beta = p[2]->f, *mean = p[3]->f, *var = p[4]->f;
  size_t per_out = (size_t) (op->in_channels / op->groups) * op->kh * op->kw;
  for (int oc = 0; oc < op->out_channels; oc++) {
    int ch = op->out_map[oc];        /* the BN channel this op channel feeds */
    if (var[ch] + eps <= 0.0f)
      return NODE_ERR (c, SN_ERR_PARSE, "variance + epsilon <= 0 at channel %d",
          ch);
    float scale = gamma[ch] / sqrtf (var[ch] + eps);
    for (size_t k = 0; k < per_out; k++)
      op->weight[oc * per_out + k] *= scale;
    op->bias[oc] = (op->bias[oc] - mean[ch]) * scale + beta[ch];
  }
  return new_tensor_output (c, x->value, 4);
}

/* Fuse ReLU into every producer of x when nothing else reads x. */
sn_status
lower_relu (lower_ctx *c)
{
  lvalue *x;
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = materialize (c, x)))
    return s;
  bool foldable = x->uses == 1 && has_producer (c, x->value)
      && val (c, x->value)->alias_of < 0;
  for (int i = 0; foldable && i < c->g->n_ops; i++) {
    sn_op *op = &c->g->ops[i];
    if (op->out == x->value && (op->kind == SN_OP_DENSE
            || op->kind == SN_OP_SOFTMAX))
      foldable = false;
  }
  if (foldable) {
    for (int i = 0; i < c->g->n_ops; i++)
      if (c->g->ops[i].out == x->value)
        c->g->ops[i].relu = true;
    return new_tensor_output (c, x->value, x->view_rank);
  }
  sn_value *in = val (c, x->value);
  int dst = sn_graph_add_value (c->g, in->c, in->h, in->w);
  if (dst < 0 || (s = emit_copy (c, x->value, 0, dst, NULL, in->c)))
    return dst < 0 ? oom (c) : s;
  c->g->ops[c->g->n_ops - 1].relu = true;
  return new_tensor_output (c, dst, x->view_rank);
}

/* Add(conv_out, x): fold x into the conv's epilogue when possible. */
static bool
try_fuse_residual (lower_ctx *c, lvalue *sum, lvalue *other)
{
  int idx;
  sn_op *op = sole_producer (c, sum->value, &idx);
  if (op == NULL || op->kind != SN_OP_CONV || sum->uses != 1 || op->relu
      || op->res >= 0 || val (c, sum->value)->alias_of >= 0)
    return false;
  if (last_producer_index (c, other->value) >= idx
      || val (c, sn_value_root (c->g, other->value, NULL))->external)
    return false;           /* x must be complete, in the arena, before the conv */
  op->res_map = malloc (sizeof (int) * op->out_channels);
  if (op->res_map == NULL)
    return false;
  for (int k = 0; k < op->out_channels; k++)
    op->res_map[k] = op->out_map[k];
  op->res = other->value;
  return true;
}

static sn_status
lower_dense_bias (lower_ctx *c, lvalue *x, lvalue *bias)
{
  sn_op *op = sole_producer (c, x->value, NULL);
  int k = val (c, x->value)->c;
  if (op == NULL || op->kind != SN_OP_DENSE || op->bias || x->uses != 1
      || !bias->f || (bias->numel != k && bias->numel != 1))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "Add of a constant is supported only as the bias of a MatMul head");
  op->bias = malloc (sizeof (float) * k);
  if (op->bias == NULL)
    return oom (c);
  for (int j = 0; j < k; j++)
    op->bias[j] = bias->f[bias->numel == 1 ? 0 : j];
  return new_tensor_output (c, x->value, x->view_rank);
}

sn_status
lower_add (lower_ctx *c)
{
  lvalue *a, *b;
  sn_status s;
  if ((s = input_lv (c, 0, &a)) || (s = input_lv (c, 1, &b)))
    return s;
  if (a->kind == LV_CONST && b->kind == LV_CONST)
    return lower_const_arith (c, "Add");
  if (b->kind == LV_CONST)
    return lower_dense_bias (c, a, b);
  if (a->kind == LV_CONST)
    return lower_dense_bias (c, b, a);
  if ((s = materialize (c, a)) || (s = materialize (c, b)))
    return s;
  sn_value *va = val (c, a->value), *vb = val (c, b->value);
  if (va->c != vb->c || va->h != vb->h || va->w != vb->w)
    return NODE_ERR (c, SN_ERR_PARSE, "adds [%d][%d][%d] and [%d][%d][%d]",
        va->c, va->h, va->w, vb->c, vb->h, vb->w);
  if (try_fuse_residual (c, a, b))
    return new_tensor_output (c, a->value, 4);
  if (try_fuse_residual (c, b, a))
    return new_tensor_output (c, b->value, 4);
  int out = sn_graph_add_value (c->g, va->c, va->h, va->w);
  sn_op *op = out >= 0 ? add_op (c, SN_OP_ADD, a->value, out, va->c) : NULL;
  if (op == NULL)
    return oom (c);
  op->in2 = b->value;
  op->macs = (double) va->c * va->h * va->w;
  return new_tensor_output (c, out, a->view_rank);
}

/* ------------------------------------------------------------------------ */
/* pooling, dense head, softmax */

static sn_status
lower_pool (lower_ctx *c, sn_pool_kind kind)
{
  lvalue *x;
  int kh, kw, sh, sw, pads[4], oh, ow;
  sn_status s;
  if ((s = input_lv (c, 0, &x)))
    return s;
  /* Zeros padded in front of an average pool count in its divisor. */
  const int *extra = x->kind == LV_PADDED && kind == SN_POOL_AVG ? x->pad : NULL;
  const int64_t *own;
  size_t n_own = extra ? sn_attr_ints (c->node, "pads", &own) : 0;
  if (n_own == 4 && (own[0] || own[1] || own[2] || own[3]))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "pads on both a Pad and its pool");
  if ((!extra && (s = materialize (c, x))) || (s = extra ? SN_OK
          : require_tensor (c, x))
      || (s = read_hw_attr (c, "kernel_shape", 0, &kh, &kw))
      || (s = read_hw_attr (c, "strides", 1, &sh, &sw)))
    return s;
  int dh, dw;
  if ((s = read_hw_attr (c, "dilations", 1, &dh, &dw)))
    return s;
  if (kh == 0 || dh != 1 || dw != 1 || c->node->n_output > 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "pooling needs a kernel_shape, no dilation and one output");
  sn_value *in = val (c, x->value);
  if ((s = resolve_window (c, in->h, in->w, kh, kw, sh, sw, extra, pads, &oh,
              &ow)))
    return s;
  int out = sn_graph_add_value (c->g, in->c, oh, ow);
  sn_op *op = out >= 0 ? add_op (c, SN_OP_POOL, x->value, out, in->c) : NULL;
  if (op == NULL)
    return oom (c);
  op->pool_kind = kind;
  op->count_include_pad = extra != NULL
      || sn_attr_int (c->node, "count_include_pad", 0) != 0;
  set_window (op, kh, kw, sh, sw, pads);
  op->macs = (double) in->c * oh * ow * kh * kw;
  return new_tensor_output (c, out, 4);
}

sn_status
lower_maxpool (lower_ctx *c)
{
  return lower_pool (c, SN_POOL_MAX);
}

sn_status
lower_avgpool (lower_ctx *c)
{
  return lower_pool (c, SN_POOL_AVG);
}

sn_status
lower_global_pool (lower_ctx *c)
{
  lvalue *x;
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = materialize (c, x))
      || (s = require_tensor (c, x)))
    return s;
  int view_rank = 4;
  if (strcmp (c->node->op_type, "ReduceMean") == 0) {
    const int64_t *axes;
    size_t n = sn_attr_ints (c->node, "axes", &axes);
    lvalue *ax = NULL;
    if (n == 0 && c->node->n_input > 1) {
      if ((s = input_lv (c, 1, &ax)) || (s = require_const (c, ax, false)))
        return s;
      axes = ax->i;
      n = (size_t) ax->numel;
    }
    bool spatial = n == 2 && ((axes[0] == 2 && axes[1] == 3)
        || (axes[0] == -2 && axes[1] == -1) || (axes[0] == 3 && axes[1] == 2));
    if (!spatial)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED,
          "ReduceMean must average the two spatial axes");
    if (sn_attr_int (c->node, "keepdims", 1) == 0)
      view_rank = 2;
  }
  sn_value *in = val (c, x->value);
  int out = sn_graph_add_value (c->g, in->c, 1, 1);
  sn_op *op = out >= 0 ? add_op (c, SN_OP_GLOBAL_POOL, x->value, out, in->c)
      : NULL;
  if (op == NULL)
    return oom (c);
  op->macs = (double) in->c * in->h * in->w;
  return new_tensor_output (c, out, view_rank);
}

/* Gemm(A, B, C) with A = [N][C] features, or MatMul(A, B). */
sn_status
lower_dense (lower_ctx *c)
{
  lvalue *x, *w, *b = NULL;
  sn_status s;
  bool gemm = strcmp (c->node->op_type, "Gemm") == 0;
  if ((s = input_lv (c, 0, &x)) || (s = require_tensor (c, x))
      || (s = input_lv (c, 1, &w)) || (s = require_const (c, w, true)))
    return s;
  if (gemm && c->node->n_input > 2 && c->node->input[2][0]
      && ((s = input_lv (c, 2, &b)) || (s = require_const (c, b, true))))
    return s;
  sn_value *in = val (c, x->value);
  bool trans_b = gemm && sn_attr_int (c->node, "transB", 0) != 0;
  float alpha = gemm ? sn_attr_float (c->node, "alpha", 1.0f) : 1.0f;
  float beta = gemm ? sn_attr_float (c->node, "beta", 1.0f) : 1.0f;
  if (in->h != 1 || in->w != 1 || (gemm && sn_attr_int (c->node, "transA", 0)))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "the classifier must read pooled [N][C] features");
  if (w->rank != 2 || w->dims[trans_b ? 1 : 0] != in->c)
    return NODE_ERR (c, SN_ERR_PARSE, "weight does not match %d features",
        in->c);
  int k = (int) w->dims[trans_b ? 0 : 1];
  int out = sn_graph_add_value (c->g, k, 1, 1);
  sn_op *op = out >= 0 ? add_op (c, SN_OP_DENSE, x->value, out, k) : NULL;
  if (op == NULL || !(op->weight = malloc (sizeof (float) * k * in->c)))
    return oom (c);
  for (int j = 0; j < k; j++)           /* weight [k][c] */
    for (int i = 0; i < in->c; i++)
      op->weight[(size_t) j * in->c + i] = alpha
          * w->f[trans_b ? (size_t) j * in->c + i : (size_t) i * k + j];
  if (b) {
    if (b->numel != k && b->numel != 1)
      return NODE_ERR (c, SN_ERR_PARSE, "bias has %lld values for %d outputs",
          (long long) b->numel, k);
    if (!(op->bias = malloc (sizeof (float) * k)))
      return oom (c);
    for (int j = 0; j < k; j++)
      op->bias[j] = beta * b->f[b->numel == 1 ? 0 : j];
  }
  op->in_channels = in->c;
  op->macs = (double) k * in->c;
  return new_tensor_output (c, out, 2);
}

sn_status
lower_softmax (lower_ctx *c)
{
  lvalue *x;
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = require_tensor (c, x)))
    return s;
  sn_value *in = val (c, x->value);
  int64_t axis = sn_attr_int (c->node, "axis", c->opset >= 13 ? -1 : 1);
  if (in->h != 1 || in->w != 1 || (axis != 1 && axis != -1))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "Softmax must run over the class scores");
  int out = sn_graph_add_value (c->g, in->c, 1, 1);
  if (out < 0 || add_op (c, SN_OP_SOFTMAX, x->value, out, in->c) == NULL)
    return oom (c);
  return new_tensor_output (c, out, x->view_rank);
}

/* Pad with zeros around the spatial axes: a pending view that the next Conv
 * or AveragePool absorbs into its own padding. */
sn_status
lower_pad (lower_ctx *c)
{
  lvalue *x, *p = NULL, *cv = NULL;
  char buf[16];
  sn_status s;
  if ((s = input_lv (c, 0, &x)) || (s = require_tensor (c, x)))
    return s;
  const int64_t *pads;
  int64_t np = (int64_t) sn_attr_ints (c->node, "pads", &pads);
  float value = sn_attr_float (c->node, "value", 0.0f);
  if (c->node->n_input > 1) {
    if ((s = input_lv (c, 1, &p)) || (s = require_const (c, p, false)))
      return s;
    pads = p->i;
    np = p->numel;
    if (c->node->n_input > 2 && c->node->input[2][0]) {
      if ((s = input_lv (c, 2, &cv)) || (s = require_const (c, cv, true)))
        return s;
      value = cv->numel ? cv->f[0] : 0.0f;
    }
  }
  const char *mode = sn_attr_string (c->node, "mode", "constant", buf,
      sizeof buf);
  if (np != 8 || strcmp (mode, "constant") != 0 || value != 0.0f
      || pads[0] || pads[1] || pads[4] || pads[5])
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "only zero padding of the two spatial axes is supported");
  lvalue *o;
  if ((s = new_output (c, 0, LV_PADDED, &o)))
    return s;
  o->value = x->value;
  for (int k = 0; k < 2; k++) {
    if (pads[2 + k] < 0 || pads[6 + k] < 0 || pads[2 + k] > 64
        || pads[6 + k] > 64)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "pads must be in 0..64");
    o->pad[k] = (int) pads[2 + k];
    o->pad[k + 2] = (int) pads[6 + k];
  }
  return SN_OK;
}

/* Identity / Dropout (inference): the output is the input. */
sn_status
lower_identity (lower_ctx *c)
{
  lvalue *x, *o;
  sn_status s;
  if ((s = input_lv (c, 0, &x)))
    return s;
  if (x->kind == LV_CONST)
    return lower_const_passthrough (c, x);
  if ((s = new_output (c, 0, x->kind, &o)))
    return s;
  int uses = o->uses;
  const char *name = o->name;
  *o = *x;
  o->name = name;
  o->uses = uses + x->uses - 1;
  return SN_OK;
}
