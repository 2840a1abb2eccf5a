/* plan.c - the IR container and arena planning.
 *
 * Every owner value (not an alias, not the caller's input) gets a slot in one
 * float arena per context. Slots are reused once a value is dead: liveness is
 * [first op writing it, last op reading it], and values whose live ranges
 * overlap never share bytes (an op's input and output are both live at it),
 * except a conv's output written in place over its dead residual
 * (inplace_residual). */
#include "ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SN_ARENA_ALIGN SN_LINE_FLOATS  /* slots start on a cache line */

static size_t
owner_plane_stride (const sn_value *v)
{
  size_t px = (size_t) v->h * v->w;
  if (v->external || px < SN_LINE_FLOATS)
    return px;
  return (px + SN_LINE_FLOATS - 1) / SN_LINE_FLOATS * SN_LINE_FLOATS;
}

sn_status
sn_set_error (sn_error *err, sn_status status, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
    /* One line: names copied from a (possibly corrupt) file may hold
     * newlines or other control bytes. */
    for (char *c = err->message; *c; c++)
      if ((unsigned char) *c < 0x20 || *c == 0x7f)
        *c = '?';
    err->status = status;
  }
  return status;
}

int
sn_graph_add_value (sn_graph *g, int c, int h, int w)
{
  if ((int64_t) c * h * w > SN_MAX_VALUE_FLOATS || c < 1 || h < 1 || w < 1)
    return -1;
  if (g->n_values == g->cap_values) {
    int cap = g->cap_values ? 2 * g->cap_values : 64;
    sn_value *v = realloc (g->values, sizeof (sn_value) * cap);
    if (v == NULL)
      return -1;
    g->values = v;
    g->cap_values = cap;
  }
  sn_value *v = &g->values[g->n_values];
  memset (v, 0, sizeof *v);
  v->c = c;
  v->h = h;
  v->w = w;
  v->alias_of = -1;
  return g->n_values++;
}

sn_op *
sn_graph_add_op (sn_graph *g, sn_op_kind kind, const char *name)
{
  if (g->n_ops == g->cap_ops) {
    int cap = g->cap_ops ? 2 * g->cap_ops : 64;
    sn_op *ops = realloc (g->ops, sizeof (sn_op) * cap);
    if (ops == NULL)
      return NULL;
    g->ops = ops;
    g->cap_ops = cap;
  }
  sn_op *op = &g->ops[g->n_ops++];
  memset (op, 0, sizeof *op);
  op->kind = kind;
  op->in = op->in2 = op->out = op->res = -1;
  op->groups = 1;
  snprintf (op->name, sizeof op->name, "%s", name);
  return op;
}

void
sn_graph_clear (sn_graph *g)
{
  for (int i = 0; i < g->n_ops; i++) {
    free (g->ops[i].out_map);
    free (g->ops[i].res_map);
    free (g->ops[i].weight);
    free (g->ops[i].bias);
    free (g->ops[i].packed);
  }
  free (g->ops);
  free (g->values);
  memset (g, 0, sizeof *g);
  g->input_value = g->output_value = -1;
}

int
sn_value_root (const sn_graph *g, int v, int *plane_offset)
{
  int offset = 0;
  while (g->values[v].alias_of >= 0) {
    offset += g->values[v].alias_offset;
    v = g->values[v].alias_of;
  }
  if (plane_offset)
    *plane_offset = offset;
  return v;
}

const char *
sn_op_kind_name (sn_op_kind kind)
{
  static const char *names[] = {
    [SN_OP_INPUT_NHWC] = "input_nhwc", [SN_OP_CONV] = "conv",
    [SN_OP_POOL] = "pool", [SN_OP_GLOBAL_POOL] = "global_pool",
    [SN_OP_DENSE] = "dense", [SN_OP_SOFTMAX] = "softmax",
    [SN_OP_ADD] = "add", [SN_OP_COPY] = "copy",
  };
  return kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

static void
touch (const sn_graph *g, int v, int op_index, int *first, int *last)
{
  if (v < 0)
    return;
  int r = sn_value_root (g, v, NULL);
  if (first[r] < 0 || op_index < first[r])
    first[r] = op_index;
  if (op_index > last[r])
    last[r] = op_index;
}

typedef struct {
  size_t offset, size;
  int last;
} slot;

/* The residual value whose slot op i may write its output v into, or -1.
 * A conv adds residual plane res_map[oc] in the epilogue of the element it
 * writes to plane out_map[oc], reading each residual element just before it
 * writes the same element of the output; so when the residual is dead after
 * op i, has v's shape and feeds every channel into the plane of the same
 * index (no shuffle between them), the output can overwrite it in place
 * (a ShuffleNet stride-1 unit's pw2: x + branch(x) into x's slot). */
static int
inplace_residual (const sn_graph *g, int i, int v, const int *last)
{
  const sn_op *op = &g->ops[i];
  int res_off, out_off;
  if (op->kind != SN_OP_CONV || op->res < 0
      || sn_value_root (g, op->out, &out_off) != v)
    return -1;
  int r = sn_value_root (g, op->res, &res_off);
  const sn_value *rv = &g->values[r], *vv = &g->values[v];
  if (r == v || rv->external || last[r] != i || rv->c != vv->c
      || rv->h != vv->h || rv->w != vv->w
      || sn_value_root (g, op->in, NULL) == r)
    return -1;
  for (int oc = 0; oc < op->out_channels; oc++)
    if (out_off + op->out_map[oc] != res_off + op->res_map[oc])
      return -1;
  return r;
}

/* Lowest offset where `size` floats clear every live slot. */
static size_t
first_fit (const slot *live, int n_live, size_t size)
{
  size_t offset = 0;
  for (bool moved = true; moved;) {
    moved = false;
    for (int j = 0; j < n_live; j++) {
      if (offset < live[j].offset + live[j].size
          && live[j].offset < offset + size) {
        offset = live[j].offset + live[j].size;
        moved = true;
      }
    }
  }
  return offset;
}

sn_status
sn_plan_arena (sn_graph *g, sn_error *err)
{
  int n = g->n_values;
  int *first = malloc (sizeof (int) * n), *last = malloc (sizeof (int) * n);
  slot *live = malloc (sizeof (slot) * (n ? n : 1));
  if (!first || !last || !live) {
    free (first);
    free (last);
    free (live);
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory planning");
  }
  for (int v = 0; v < n; v++) {
    first[v] = last[v] = -1;
    g->values[v].plane_stride = owner_plane_stride (&g->values[v]);
  }
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    touch (g, op->in, i, first, last);
    touch (g, op->in2, i, first, last);
    touch (g, op->res, i, first, last);
    touch (g, op->out, i, first, last);
  }
  touch (g, g->output_value, g->n_ops, first, last);

  /* Visit values in order of first write; first-fit into the gaps left by
   * the slots still live. */
  int n_live = 0;
  size_t arena = 0;
  for (int i = 0; i <= g->n_ops; i++) {
    for (int v = 0; v < n; v++) {
      sn_value *val = &g->values[v];
      if (first[v] != i || val->alias_of >= 0 || val->external)
        continue;
      size_t size = (size_t) val->c * val->plane_stride;
      size = (size + SN_ARENA_ALIGN - 1) / SN_ARENA_ALIGN * SN_ARENA_ALIGN;
      int k = 0;                 /* drop slots dead before op i */
      for (int j = 0; j < n_live; j++)
        if (live[j].last >= i)
          live[k++] = live[j];
      n_live = k;
      int r = i < g->n_ops ? inplace_residual (g, i, v, last) : -1;
      int taken = -1;            /* the live slot of r, handed over to v */
      for (int j = 0; r >= 0 && j < n_live; j++)
        if (live[j].offset == g->values[r].arena_offset
            && live[j].size == size && live[j].last == i)
          taken = j;
      if (taken >= 0) {
        val->arena_offset = live[taken].offset;
        live[taken].last = last[v];
        continue;
      }
      size_t offset = first_fit (live, n_live, size);
      val->arena_offset = offset;
      live[n_live++] = (slot) { offset, size, last[v] };
      if (offset + size > arena)
        arena = offset + size;
    }
  }
  g->arena_floats = arena;
  free (first);
  free (last);
  free (live);
  return SN_OK;
}
