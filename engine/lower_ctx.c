/* lower_ctx.c - what the lowering's files share (lower_ctx.h): a node's
 * errors, the ONNX value table and the helpers that build the IR. Called by
 * the driver (lower.c) and the node handlers (lower_const.c,
 * lower_layout.c, lower_ops.c); calls none of them. */
#include "lower_ctx.h"

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

bool
lv_tables_init (lower_ctx *c)
{
  c->cap_lv = (int) (c->gp->n_initializer + c->gp->n_input + 1);
  for (size_t n = 0; n < c->gp->n_node; n++)
    c->cap_lv += (int) c->gp->node[n]->n_output;
  c->lv = calloc (c->cap_lv, sizeof (lvalue));
  if (c->lv == NULL)
    return false;
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

void
lv_tables_free (lower_ctx *c)
{
  for (int k = 0; k < c->n_lv; k++) {
    free (c->lv[k].f);
    free (c->lv[k].i);
  }
  free (c->lv);
  free (c->index);
  free (c->use_names);
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
