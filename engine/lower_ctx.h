/* lower_ctx.h - what the files of the ONNX lowering share (lower_ctx.c):
 * the lowering's context, a node's errors, the table of ONNX values and the
 * helpers that build the IR.
 *
 * Engine-private, not installed. Used by the driver (lower.c) and the node
 * handlers (lower_handlers.h); lower_ctx.c calls neither. Helpers one file
 * uses stay static there, except last_producer_index, kept with the other
 * IR queries in lower_ctx.c.
 */
#ifndef SN_LOWER_CTX_H
#define SN_LOWER_CTX_H

#include "ir.h"
#include "onnx_graph.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* These short names (val, oom, add_op, ...) must not leave the engine: keep
 * them out of the dynamic symbol table of whatever links it. */
#pragma GCC visibility push (hidden)

/* What an ONNX value name stands for while lowering (see lvalue). */
typedef enum { LV_CONST, LV_TENSOR, LV_SLICE, LV_SHUFFLE5D, LV_PADDED } lv_kind;

/* One ONNX value: a constant (float or int64 data, row-major over dims), an
 * IR activation value (planar [N][C][H][W]), or a pending view of one. */
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

/* The lowering of one model: the graph being built, the lvalue table (sized
 * once for the whole graph) and the node whose handler is running. */
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

/* Fail the current node: message "node 'name' (op): <printf detail>". */
#define NODE_ERR(c, status, ...) node_error ((c), (status), __VA_ARGS__)

/* errors and the lvalue table */

/* The lvalue table for c->gp (sized once for the whole graph, so lvalue
 * pointers stay valid while handlers add outputs), its name index and its
 * sorted list of used names; false when out of memory. */
bool lv_tables_init (lower_ctx *c);
/* Frees them (constants' data included), also after a failed init. */
void lv_tables_free (lower_ctx *c);

/* Set c->err to "node 'name' (op): detail" and return status. */
sn_status node_error (lower_ctx *c, sn_status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* The latest lvalue defined for `name`, or NULL. */
lvalue *lv_find (lower_ctx *c, const char *name);
/* A new lvalue for `name` with its use count; NULL when the table is full. */
lvalue *lv_new (lower_ctx *c, const char *name, lv_kind kind);
/* SN_ERR_NOMEM naming the current node. */
sn_status oom (lower_ctx *c);
/* The lvalue of input k of the current node (error if missing or unknown). */
sn_status input_lv (lower_ctx *c, size_t k, lvalue **out);
/* A new lvalue of `kind` for output k of the current node. */
sn_status new_output (lower_ctx *c, size_t k, lv_kind kind, lvalue **out);
/* Output 0 is IR value `value` seen as [N][C][H][W] (4) or [N][C] (2). */
sn_status new_tensor_output (lower_ctx *c, int value, int view_rank);
/* SN_OK when v is a plain activation tensor (not NHWC-raw, not a view). */
sn_status require_tensor (lower_ctx *c, const lvalue *v);
/* SN_OK when v is a constant with float (is_float) or int64 data. */
sn_status require_const (lower_ctx *c, const lvalue *v, bool is_float);

/* IR helpers */

/* IR value v of the graph being built ([C][H][W] planes per image). */
sn_value *val (lower_ctx *c, int v);
/* The only op writing value v (its index in *index), or NULL. */
sn_op *sole_producer (lower_ctx *c, int v, int *index);
/* Whether any op writes value v. */
bool has_producer (lower_ctx *c, int v);
/* Index of the last op writing value v (-1 for the external input). */
int last_producer_index (lower_ctx *c, int v);
/* A new op writing `channels` planes of `out` at identity out_map positions. */
sn_op *add_op (lower_ctx *c, sn_op_kind kind, int in, int out, int channels);
/* COPY channels [first, first + n) of src into planes dst_map[0..n) of dst. */
sn_status emit_copy (lower_ctx *c, int src, int first, int dst,
    const int *dst_map, int n);
/* Turn a channel-slice view into a plain tensor (a COPY into a new value). */
sn_status materialize (lower_ctx *c, lvalue *v);

#pragma GCC visibility pop

#endif /* SN_LOWER_CTX_H */
