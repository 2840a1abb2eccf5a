/* lower_const.c - constants and the constant folding of shape arithmetic.
 *
 * Initializers, Constant and ConstantOfShape become LV_CONST lvalues; Shape,
 * Gather, Cast, Mul/Div/Add/Sub and Transpose/Reshape/Slice/Concat of such
 * constants are evaluated at load time (the small int64 vectors exporters
 * emit to compute reshape targets). Nothing here adds an op to the graph.
 */
#include "lower_handlers.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* constants and shape arithmetic */

sn_status
store_const_tensor (lower_ctx *c, lvalue *o, const Onnx__TensorProto *t)
{
  sn_status s;
  if (t->n_dims > 6)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "constant of rank %zu", t->n_dims);
  o->rank = (int) t->n_dims;
  for (size_t k = 0; k < t->n_dims; k++)
    o->dims[k] = t->dims[k];
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    s = sn_tensor_to_floats (t, o->name, &o->f, &o->numel, c->err);
  else
    s = sn_tensor_to_int64s (t, o->name, &o->i, &o->numel, c->err);
  return s;
}

sn_status
lower_constant (lower_ctx *c)
{
  lvalue *o;
  sn_status s = new_output (c, 0, LV_CONST, &o);
  if (s != SN_OK)
    return s;
  const Onnx__AttributeProto *a = sn_attr (c->node, "value");
  if (a && a->t)
    return store_const_tensor (c, o, a->t);
  a = sn_attr (c->node, "value_ints");
  if (a == NULL)
    a = sn_attr (c->node, "value_int");
  if (a == NULL)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "only tensor or int constants");
  o->numel = a->has_i ? 1 : (int64_t) a->n_ints;
  o->rank = a->has_i ? 0 : 1;
  o->dims[0] = o->numel;
  o->i = malloc (sizeof (int64_t) * (o->numel + 1));
  if (o->i == NULL)
    return oom (c);
  if (a->has_i)
    o->i[0] = a->i;
  else
    memcpy (o->i, a->ints, sizeof (int64_t) * o->numel);
  return SN_OK;
}

/* A new int64 constant output with numel elements copied from data. */
static sn_status
const_int_output (lower_ctx *c, const int64_t *data, int64_t numel, int rank)
{
  lvalue *o;
  sn_status s = new_output (c, 0, LV_CONST, &o);
  if (s != SN_OK)
    return s;
  o->i = malloc (sizeof (int64_t) * (numel + 1));
  if (o->i == NULL)
    return oom (c);
  if (numel)
    memcpy (o->i, data, sizeof (int64_t) * numel);
  o->numel = numel;
  o->rank = rank;
  o->dims[0] = numel;
  return SN_OK;
}

/* An int64 constant output of shape dims[rank]. */
static sn_status
const_int_output_shaped (lower_ctx *c, const int64_t *data, int rank,
    const int64_t *dims)
{
  int64_t numel = 1;
  for (int k = 0; k < rank; k++)
    numel *= dims[k];
  sn_status s = const_int_output (c, data, numel, rank);
  if (s == SN_OK)
    memcpy (lv_find (c, c->node->output[0])->dims, dims,
        sizeof (int64_t) * rank);
  return s;
}

/* ConstantOfShape: a small integer constant filled with one value. */
sn_status
lower_constant_of_shape (lower_ctx *c)
{
  lvalue *shape;
  sn_status s;
  if ((s = input_lv (c, 0, &shape)) || (s = require_const (c, shape, false)))
    return s;
  int64_t dims[6], numel = 1, fill[64];
  if (shape->numel > 6)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "rank %lld", (long long) shape->numel);
  for (int k = 0; k < shape->numel; k++) {
    dims[k] = shape->i[k];
    if (dims[k] < 0 || dims[k] > 64 || (numel *= dims[k]) > 64)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "ConstantOfShape of more than "
          "64 elements");
  }
  const Onnx__AttributeProto *a = sn_attr (c->node, "value");
  int64_t v = 0, n1;
  if (a && a->t) {
    int64_t *data;
    if (a->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "float ConstantOfShape");
    if ((s = sn_tensor_to_int64s (a->t, "ConstantOfShape value", &data, &n1,
                c->err)))
      return s;
    v = n1 ? data[0] : 0;
    free (data);
  }
  if (numel > 64)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "%lld elements", (long long) numel);
  for (int64_t k = 0; k < numel; k++)
    fill[k] = v;
  return const_int_output_shaped (c, fill, (int) shape->numel, dims);
}

/* Transpose of a 2-D integer constant. */
sn_status
const_transpose (lower_ctx *c, const lvalue *x, const int64_t *perm, size_t np)
{
  if (!x->i || x->rank != 2 || np != 2 || perm[0] != 1 || perm[1] != 0)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "only 2-D integer constants can "
        "be transposed");
  int64_t r = x->dims[0], k = x->dims[1], out[64], dims[2] = { k, r };
  if (r * k > 64)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "constant too large");
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < k; j++)
      out[j * r + i] = x->i[i * k + j];
  return const_int_output_shaped (c, out, 2, dims);
}

/* Reshape of an integer constant (the data stays, the dims change). */
sn_status
const_reshape (lower_ctx *c, const lvalue *x, const lvalue *shape)
{
  if (!x->i || !shape->i || shape->numel < 1 || shape->numel > 6)
    return lower_const_passthrough (c, x);
  int64_t dims[6], known = 1;
  int infer = -1;
  for (int k = 0; k < shape->numel; k++) {
    dims[k] = shape->i[k] == 0 && k < x->rank ? x->dims[k] : shape->i[k];
    if (dims[k] == -1)
      infer = k;
    else if (dims[k] > 0 && dims[k] <= SN_MAX_ELEMENTS
        && known * dims[k] <= SN_MAX_ELEMENTS)
      known *= dims[k];
    else
      return NODE_ERR (c, SN_ERR_PARSE, "bad reshape dimension");
  }
  if (infer >= 0)
    dims[infer] = known ? x->numel / known : 0;
  if (infer >= 0 ? known * dims[infer] != x->numel : known != x->numel)
    return NODE_ERR (c, SN_ERR_PARSE, "reshape changes the element count");
  return const_int_output_shaped (c, x->i, (int) shape->numel, dims);
}

/* Slice of an integer constant along one axis, any step (ONNX clamping). */
sn_status
const_slice (lower_ctx *c, const lvalue *x, int64_t start, int64_t end,
    int64_t axis, int64_t step)
{
  int rank = x->rank ? x->rank : 1;
  if (axis < 0)
    axis += rank;
  if (!x->i || axis < 0 || axis >= rank || step == 0 || rank > 2)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "slice of a constant");
  int64_t dim = x->rank ? x->dims[axis] : x->numel;
  int64_t inner = rank == 2 && axis == 0 ? x->dims[1] : 1;
  int64_t outer = rank == 2 && axis == 1 ? x->dims[0] : 1;
  if (start < 0)
    start += dim;
  if (end < 0 && end > INT64_MIN / 2)
    end += dim;
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
  start = start < 0 ? 0 : start > hi ? hi : start;
  end = end < lo ? lo : end > dim ? dim : end;
  int64_t out[64], n = 0, count = 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
      if (o == 0)
        count++;
      for (int64_t j = 0; j < inner; j++) {
        if (n == 64)
          return NODE_ERR (c, SN_ERR_UNSUPPORTED, "constant too large");
        out[n++] = x->i[(o * dim + i) * inner + j];
      }
    }
  int64_t dims[2] = { x->rank == 2 ? x->dims[0] : count, x->rank == 2 ? x->dims[1] : 0 };
  dims[axis] = count;
  return const_int_output_shaped (c, out, rank, dims);
}

/* Shape of an activation as the ONNX graph sees it (batch reported as 1). */
sn_status
lower_shape (lower_ctx *c)
{
  lvalue *x;
  sn_status s = input_lv (c, 0, &x);
  if (s != SN_OK)
    return s;
  if (x->kind != LV_TENSOR)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "Shape of a non-tensor '%s'",
        x->name);
  sn_value *v = val (c, x->value);
  int64_t shape[4] = { 1, v->c, v->h, v->w };
  if (x->nhwc_raw) {
    shape[1] = v->h;
    shape[2] = v->w;
    shape[3] = v->c;
  }
  return const_int_output (c, shape, x->view_rank == 2 ? 2 : 4, 1);
}

sn_status
lower_gather (lower_ctx *c)
{
  lvalue *d, *idx;
  sn_status s;
  if ((s = input_lv (c, 0, &d)) || (s = input_lv (c, 1, &idx))
      || (s = require_const (c, d, false)) || (s = require_const (c, idx, false)))
    return s;
  if (sn_attr_int (c->node, "axis", 0) != 0 || d->rank > 1)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "only 1-D shape gathers");
  int64_t out[16];
  if (idx->numel > 16)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "too many indices");
  for (int64_t k = 0; k < idx->numel; k++) {
    int64_t j = idx->i[k] < 0 ? idx->i[k] + d->numel : idx->i[k];
    if (j < 0 || j >= d->numel)
      return NODE_ERR (c, SN_ERR_PARSE, "index %lld out of range",
          (long long) idx->i[k]);
    out[k] = d->i[j];
  }
  return const_int_output (c, out, idx->numel, idx->rank);
}

/* Unsqueeze, Squeeze, Cast, Identity-like ops on integer shape constants. */
sn_status
lower_const_passthrough (lower_ctx *c, const lvalue *x)
{
  if (x->f) {
    lvalue *o;
    sn_status s = new_output (c, 0, LV_CONST, &o);
    if (s != SN_OK)
      return s;
    o->f = malloc (sizeof (float) * (x->numel + 1));
    if (o->f == NULL)
      return oom (c);
    memcpy (o->f, x->f, sizeof (float) * x->numel);
    o->numel = x->numel;
    o->rank = x->rank;
    memcpy (o->dims, x->dims, sizeof o->dims);
    return SN_OK;
  }
  return const_int_output (c, x->i, x->numel, x->numel == 1 ? 1 : x->rank);
}

sn_status
lower_const_arith (lower_ctx *c, const char *op)
{
  lvalue *a, *b;
  sn_status s;
  if ((s = input_lv (c, 0, &a)) || (s = input_lv (c, 1, &b))
      || (s = require_const (c, a, false)) || (s = require_const (c, b, false)))
    return s;
  int64_t n = a->numel > b->numel ? a->numel : b->numel;
  if (n > 16 || (a->numel != n && a->numel != 1) || (b->numel != n && b->numel != 1))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "shape arithmetic on %lld/%lld "
        "elements", (long long) a->numel, (long long) b->numel);
  int64_t out[16];
  for (int64_t k = 0; k < n; k++) {
    int64_t x = a->i[a->numel == 1 ? 0 : k], y = b->i[b->numel == 1 ? 0 : k];
    if (op[0] == 'D' && y == 0)
      return NODE_ERR (c, SN_ERR_PARSE, "division by zero");
    out[k] = op[0] == 'M' ? x * y : op[0] == 'D' ? x / y
        : op[0] == 'A' ? x + y : x - y;
  }
  return const_int_output (c, out, n, a->rank > b->rank ? a->rank : b->rank);
}

sn_status
lower_const_concat (lower_ctx *c)
{
  int64_t out[16];
  int64_t n = 0;
  for (size_t k = 0; k < c->node->n_input; k++) {
    lvalue *x;
    sn_status s;
    if ((s = input_lv (c, k, &x)) || (s = require_const (c, x, false)))
      return s;
    if (n + x->numel > 16)
      return NODE_ERR (c, SN_ERR_UNSUPPORTED, "shape concat too long");
    memcpy (out + n, x->i, sizeof (int64_t) * x->numel);
    n += x->numel;
  }
  return const_int_output (c, out, n, 1);
}

sn_status
lower_shape_arith (lower_ctx *c)
{
  lvalue *a;
  sn_status s = input_lv (c, 0, &a);
  if (s == SN_OK && a->kind != LV_CONST)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED,
        "elementwise %s on activations is not part of ShuffleNet",
        c->node->op_type);
  return s ? s : lower_const_arith (c, c->node->op_type);
}

sn_status
lower_cast (lower_ctx *c)
{
  lvalue *x;
  sn_status s = input_lv (c, 0, &x);
  if (s == SN_OK && x->kind != LV_CONST)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "Cast of an activation");
  return s ? s : lower_const_passthrough (c, x);
}
