/* plan.c - the IR container and arena planning.
 *
 * Every owner value (not an alias, not the caller's input) gets a slot in one
 * float arena per context. Slots are reused once a value is dead: liveness is
 * [first op writing it, last op reading it], and values whose live ranges
 * overlap never share bytes (an op's input and output are both live at it),
 * except a conv's output written in place over its dead residual
 * (inplace_residual). */
#include "plan.h"

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

/* Lowest offset at or above `base` where `size` floats clear every live
 * slot. */
static size_t
first_fit (const slot *live, int n_live, size_t base, size_t size)
{
  size_t offset = base;
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

/* Live range [first[v], last[v]] of every owner value, in op indices (the
 * graph output is read after the last op, at n_ops); -1 when unused. */
static void
liveness (const sn_graph *g, int *first, int *last)
{
  for (int v = 0; v < g->n_values; v++)
    first[v] = last[v] = -1;
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    touch (g, op->in, i, first, last);
    touch (g, op->in2, i, first, last);
    touch (g, op->res, i, first, last);
    touch (g, op->out, i, first, last);
  }
  touch (g, g->output_value, g->n_ops, first, last);
}

/* Place the owners with size[v] > 0 floats from `base` on: in order of
 * first write, first fit into the gaps left by the slots still live; a
 * conv's output takes over its dead residual's slot (inplace_residual)
 * when both have the same store_class (the same storage geometry).
 * offset[v] receives each start; returns the end of the highest slot
 * (`base` when none). live: scratch for n_values slots. */
static size_t
place_slots (const sn_graph *g, const int *first, const int *last,
    const size_t *size, const int *store_class, size_t base, size_t *offset,
    slot *live)
{
  int n_live = 0;
  size_t end = base;
  for (int i = 0; i <= g->n_ops; i++) {
    for (int v = 0; v < g->n_values; v++) {
      if (first[v] != i || size[v] == 0)
        continue;
      size_t sz = (size[v] + SN_ARENA_ALIGN - 1) / SN_ARENA_ALIGN
          * SN_ARENA_ALIGN;
      int k = 0;                 /* drop slots dead before op i */
      for (int j = 0; j < n_live; j++)
        if (live[j].last >= i)
          live[k++] = live[j];
      n_live = k;
      int r = i < g->n_ops ? inplace_residual (g, i, v, last) : -1;
      if (r >= 0 && (size[r] == 0 || store_class[r] != store_class[v]))
        r = -1;
      int taken = -1;            /* the live slot of r, handed over to v */
      for (int j = 0; r >= 0 && j < n_live; j++)
        if (live[j].offset == offset[r] && live[j].size == sz
            && live[j].last == i)
          taken = j;
      if (taken >= 0) {
        offset[v] = live[taken].offset;
        live[taken].last = last[v];
        continue;
      }
      offset[v] = first_fit (live, n_live, base, sz);
      live[n_live++] = (slot) { offset[v], sz, last[v] };
      if (offset[v] + sz > end)
        end = offset[v] + sz;
    }
  }
  return end;
}

sn_status
sn_plan_arena (sn_graph *g, sn_error *err)
{
  int n = g->n_values ? g->n_values : 1;
  int *first = malloc (sizeof (int) * n), *last = malloc (sizeof (int) * n);
  int *store_class = calloc (n, sizeof (int));
  size_t *size = malloc (sizeof (size_t) * n);
  size_t *offset = calloc (n, sizeof (size_t));
  slot *live = malloc (sizeof (slot) * n);
  sn_status s = SN_OK;
  if (!first || !last || !store_class || !size || !offset || !live) {
    s = sn_set_error (err, SN_ERR_NOMEM, "out of memory planning");
    goto done;
  }
  liveness (g, first, last);
  for (int v = 0; v < g->n_values; v++) {
    sn_value *val = &g->values[v];
    val->plane_stride = owner_plane_stride (val);
    size[v] = val->alias_of >= 0 || val->external ? 0
        : (size_t) val->c * val->plane_stride;
  }
  g->arena_floats = place_slots (g, first, last, size, store_class, 0,
      offset, live);
  for (int v = 0; v < g->n_values; v++)
    g->values[v].arena_offset = offset[v];
done:
  free (first);
  free (last);
  free (store_class);
  free (size);
  free (offset);
  free (live);
  return s;
}

/* ---- storage in row bands (a context's plan) ------------------------------ */

void
sn_op_input_rows (const sn_graph *g, const sn_op *op, int o0, int o1,
    int *i0, int *i1)
{
  int in_h = g->values[op->in].h;
  bool window = op->kind == SN_OP_CONV || op->kind == SN_OP_POOL;
  int stride = window ? op->stride_h : 1, k = window ? op->kh : 1;
  int pad = window ? op->pad_t : 0;
  long lo = (long) o0 * stride - pad, hi = (long) (o1 - 1) * stride - pad + k;
  lo = lo < 0 ? 0 : lo > in_h ? in_h : lo;
  hi = hi < lo ? lo : hi > in_h ? in_h : hi;
  *i0 = (int) lo;
  *i1 = o0 < o1 ? (int) hi : (int) lo;
}

static size_t
round_line (size_t floats)
{
  return (floats + SN_LINE_FLOATS - 1) / SN_LINE_FLOATS * SN_LINE_FLOATS;
}

void
sn_band_store_of (const sn_store_plan *sp, const sn_graph *g, int v, int b,
    sn_band_store *bs)
{
  const sn_value *val = &g->values[v];
  sn_band_rows (b, sp->bands, val->h, &bs->own_lo, &bs->own_hi);
  bs->lo = bs->own_lo - sp->halo_top[v] < 0 ? 0
      : bs->own_lo - sp->halo_top[v];
  bs->hi = bs->own_hi + sp->halo_bottom[v] > val->h ? val->h
      : bs->own_hi + sp->halo_bottom[v];
  size_t ahead = (size_t) (bs->own_lo - bs->lo) * val->w;  /* halo above */
  bs->lead = SN_LINE_FLOATS + (SN_LINE_FLOATS - ahead % SN_LINE_FLOATS)
      % SN_LINE_FLOATS;
  bs->stride = round_line (bs->lead + (size_t) (bs->hi - bs->lo) * val->w
      + SN_LINE_FLOATS);
}

ptrdiff_t
sn_store_plane (const sn_store_plan *sp, const sn_graph *g, int v, int p,
    int b)
{
  int offset;
  int r = sn_value_root (g, v, &offset);
  if (!sp->banded[r])
    return (ptrdiff_t) (sp->offset[(size_t) r * sp->bands]
        + (size_t) (offset + p) * g->values[r].plane_stride);
  sn_band_store bs;
  sn_band_store_of (sp, g, r, b, &bs);
  return (ptrdiff_t) (sp->offset[(size_t) r * sp->bands + b]
      + (size_t) (offset + p) * bs.stride + bs.lead)
      - (ptrdiff_t) bs.lo * g->values[r].w;
}

size_t
sn_store_plane_stride (const sn_store_plan *sp, const sn_graph *g, int v,
    int b)
{
  int r = sn_value_root (g, v, NULL);
  if (!sp->banded[r])
    return g->values[r].plane_stride;
  sn_band_store bs;
  sn_band_store_of (sp, g, r, b, &bs);
  return bs.stride;
}

void
sn_store_plan_free (sn_store_plan *sp)
{
  free (sp->banded);
  free (sp->halo_top);
  free (sp->halo_bottom);
  free (sp->offset);
  memset (sp, 0, sizeof *sp);
}

/* Which owners are banded: every op writing or reading them splits its
 * rows into `bands` bands (a conv or pool), and they have a row per band. */
static void
mark_banded (const sn_graph *g, int bands, const int *op_bands,
    bool *banded)
{
  for (int v = 0; v < g->n_values; v++) {
    const sn_value *val = &g->values[v];
    banded[v] = bands > 1 && val->alias_of < 0 && !val->external
        && val->h >= bands && v != g->output_value;
  }
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    bool split = op_bands[i] == bands
        && (op->kind == SN_OP_CONV || op->kind == SN_OP_POOL);
    int touched[] = { op->in, op->in2, op->res, op->out };
    for (int k = 0; k < 4; k++)
      if (touched[k] >= 0 && !split)
        banded[sn_value_root (g, touched[k], NULL)] = false;
  }
}

/* Halo rows: what each band of a banded op's input reads beyond its own
 * rows (a window's rows above and below; strides may shift them). */
static void
measure_halos (const sn_graph *g, const int *op_bands, sn_store_plan *sp)
{
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    int r = sn_value_root (g, op->in, NULL);
    if (op_bands[i] != sp->bands || !sp->banded[r])
      continue;
    for (int b = 0; b < sp->bands; b++) {
      int o0, o1, i0, i1, r0, r1;
      sn_band_rows (b, sp->bands, g->values[op->out].h, &o0, &o1);
      sn_op_input_rows (g, op, o0, o1, &i0, &i1);
      sn_band_rows (b, sp->bands, g->values[op->in].h, &r0, &r1);
      if (i0 == i1)
        continue;
      if (r0 - i0 > sp->halo_top[r])
        sp->halo_top[r] = r0 - i0;
      if (i1 - r1 > sp->halo_bottom[r])
        sp->halo_bottom[r] = i1 - r1;
    }
  }
}

sn_status
sn_plan_store (const sn_graph *g, int bands, const int *op_bands,
    sn_store_plan *sp, sn_error *err)
{
  int n = g->n_values ? g->n_values : 1;
  memset (sp, 0, sizeof *sp);
  sp->bands = bands;
  sp->banded = calloc (n, sizeof (bool));
  sp->halo_top = calloc (n, sizeof (int));
  sp->halo_bottom = calloc (n, sizeof (int));
  sp->offset = calloc ((size_t) n * bands, sizeof (size_t));
  int *first = malloc (sizeof (int) * n), *last = malloc (sizeof (int) * n);
  int *store_class = calloc (n, sizeof (int));
  size_t *size = malloc (sizeof (size_t) * n);
  size_t *at = malloc (sizeof (size_t) * n);
  slot *live = malloc (sizeof (slot) * n);
  sn_status s = SN_OK;
  if (!sp->banded || !sp->halo_top || !sp->halo_bottom || !sp->offset
      || !first || !last || !store_class || !size || !at || !live) {
    s = sn_set_error (err, SN_ERR_NOMEM, "out of memory planning");
    goto done;
  }
  mark_banded (g, bands, op_bands, sp->banded);
  measure_halos (g, op_bands, sp);
  liveness (g, first, last);
  for (int v = 0; v < g->n_values; v++)
    store_class[v] = sp->banded[v]
        ? 1 + sp->halo_top[v] + (sp->halo_bottom[v] << 16) : 0;
  /* Band b's storages from base on, band after band; a band's addresses
   * of its kept rows (sn_store_plane) never fall below the arena. */
  size_t base = 0;
  for (int b = 0; b < bands; b++) {
    for (int v = 0; v < g->n_values; v++) {
      const sn_value *val = &g->values[v];
      size[v] = 0;
      if (sp->banded[v]) {
        sn_band_store bs;
        sn_band_store_of (sp, g, v, b, &bs);
        size[v] = (size_t) val->c * bs.stride;
        size_t below = (size_t) bs.lo * val->w;
        if (below > base + bs.lead)
          base = below - bs.lead;
      } else if (b == 0 && val->alias_of < 0 && !val->external) {
        size[v] = (size_t) val->c * val->plane_stride;
      }
    }
    base = place_slots (g, first, last, size, store_class, base, at, live);
    for (int v = 0; v < g->n_values; v++)
      if (size[v])
        sp->offset[(size_t) v * bands + b] = at[v];
  }
  sp->arena_floats = base;
done:
  free (first);
  free (last);
  free (store_class);
  free (size);
  free (at);
  free (live);
  if (s != SN_OK)
    sn_store_plan_free (sp);
  return s;
}
