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
 */
#include "lower.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { LV_CONST, LV_TENSOR, LV_SLICE, LV_SHUFFLE5D, LV_PADDED } lv_kind;

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

#define NODE_ERR(c, status, ...) node_error ((c), (status), __VA_ARGS__)

static sn_status __attribute__ ((format (printf, 3, 4)))
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

static lvalue *
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
static lvalue *
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

static sn_status
oom (lower_ctx *c)
{
  return NODE_ERR (c, SN_ERR_NOMEM, "out of memory");
}

/* Input k of the current node, which must exist. */
static sn_status
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

static sn_status
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
static sn_status
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

static sn_status
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

static sn_status
require_const (lower_ctx *c, const lvalue *v, bool is_float)
{
  if (v->kind != LV_CONST || (is_float ? v->f == NULL : v->i == NULL))
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "input '%s' must be a constant %s",
        v->name, is_float ? "float tensor" : "integer tensor");
  return SN_OK;
}

/* ------------------------------------------------------------------------ */
/* IR helpers */

static sn_value *
val (lower_ctx *c, int v)
{
  return &c->g->values[v];
}

/* The only op producing value v, or NULL if none or several. */
static sn_op *
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

static bool
has_producer (lower_ctx *c, int v)
{
  for (int i = 0; i < c->g->n_ops; i++)
    if (c->g->ops[i].out == v)
      return true;
  return false;
}

/* Index of the last op writing value v (-1 for the external input). */
static int
last_producer_index (lower_ctx *c, int v)
{
  int last = -1;
  for (int i = 0; i < c->g->n_ops; i++)
    if (c->g->ops[i].out == v)
      last = i;
  return last;
}

/* An op writing `channels` planes of value `out` at identity positions. */
static sn_op *
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
static sn_status
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
static sn_status
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
/* constants and shape arithmetic */

static sn_status
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

static sn_status
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

static sn_status lower_const_passthrough (lower_ctx *c, const lvalue *x);

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
static sn_status
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
static sn_status
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
static sn_status
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
static sn_status
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
static sn_status
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

static sn_status
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
static sn_status
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

static sn_status
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

static sn_status
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

/* ------------------------------------------------------------------------ */
/* the graph input and its NHWC transpose */

static sn_status
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

static sn_status
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

static sn_status
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
static sn_status
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

static sn_status
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

static sn_status
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

static sn_status
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

/* ------------------------------------------------------------------------ */
/* Conv, BatchNormalization, Relu, Add */

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

static sn_status
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
  op->kh = kh;
  op->kw = kw;
  op->stride_h = sh;
  op->stride_w = sw;
  op->pad_t = pads[0];
  op->pad_l = pads[1];
  op->pad_b = pads[2];
  op->pad_r = pads[3];
  op->macs = (double) cout * oh * ow * (cin / groups) * kh * kw;
  if ((s = conv_weights (c, op, w, b, cout)))
    return s;
  return new_tensor_output (c, out, 4);
}

static sn_status
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
static sn_status
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

static sn_status
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
  op->kh = kh;
  op->kw = kw;
  op->stride_h = sh;
  op->stride_w = sw;
  op->pad_t = pads[0];
  op->pad_l = pads[1];
  op->pad_b = pads[2];
  op->pad_r = pads[3];
  op->macs = (double) in->c * oh * ow * kh * kw;
  return new_tensor_output (c, out, 4);
}

static sn_status
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
static sn_status
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

static sn_status
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
static sn_status
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
static sn_status
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

/* ------------------------------------------------------------------------ */
/* the driver */

typedef sn_status (*lower_fn) (lower_ctx *c);

static sn_status
lower_maxpool (lower_ctx *c)
{
  return lower_pool (c, SN_POOL_MAX);
}

static sn_status
lower_avgpool (lower_ctx *c)
{
  return lower_pool (c, SN_POOL_AVG);
}

static sn_status
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

static sn_status
lower_cast (lower_ctx *c)
{
  lvalue *x;
  sn_status s = input_lv (c, 0, &x);
  if (s == SN_OK && x->kind != LV_CONST)
    return NODE_ERR (c, SN_ERR_UNSUPPORTED, "Cast of an activation");
  return s ? s : lower_const_passthrough (c, x);
}

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
    op->packed_group_stride = kt->pw_packed_size (cout, cin);
    op->packed = malloc (sizeof (float) * op->packed_group_stride * op->groups);
    if (op->packed == NULL)
      return sn_set_error (err, SN_ERR_NOMEM, "out of memory packing weights");
    for (int gi = 0; gi < op->groups; gi++)
      kt->pw_pack (op->weight + (size_t) gi * cout * cin, cout, cin,
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
