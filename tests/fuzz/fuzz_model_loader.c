/* fuzz_model_loader.c - libFuzzer target for the engine's model loader.
 *
 * Every input goes through sn_model_load_memory (); a model that loads is
 * then planned into a one-thread context and run once on an all-zero
 * image. The contract checked, besides memory safety and no undefined
 * behaviour (ASan + UBSan) and no leak (LeakSanitizer):
 *  - a refused model gives *model == NULL, err.status == the status, and
 *    ONE non-empty line of message;
 *  - a loaded model has 3 input channels, 1..16384 rows and columns, at
 *    least one class, and its context runs.
 *
 * Random byte mutations of a protobuf mostly break its framing or land in
 * weights, so a custom mutator also edits the parsed ONNX graph half of the
 * time: attribute values, op types, node inputs, tensor dims and data,
 * input dims, node order, opset (see mutate_graph ()). Built and run by
 * tests/fuzz/run_fuzz.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "shufflenet.h"

/* Models whose input is larger than this are loaded but not run: a legal
 * 3x16384x16384 input needs gigabytes of activations, which says nothing
 * about memory safety and would trip libFuzzer's RSS limit. */
#define RUN_MAX_INPUT_FLOATS ((size_t) 1 << 20)

size_t LLVMFuzzerMutate (uint8_t * data, size_t size, size_t max_size);

/* A failed call left *object NULL and filled err with its status and one
 * non-empty line. */
static void
check_refusal (sn_status s, const void *object, const sn_error * err)
{
  size_t len = strnlen (err->message, sizeof err->message);
  if (object != NULL || err->status != s || len == 0
      || len == sizeof err->message || memchr (err->message, '\n', len)) {
    fprintf (stderr, "refusal breaks the contract: status %d/%d object %p "
        "message '%.*s'\n", (int) s, (int) err->status, object, (int) len,
        err->message);
    abort ();
  }
}

static void
run_once (const sn_model * model)
{
  sn_input_info in;
  sn_model_input_info (model, &in);
  int classes = sn_model_num_classes (model);
  if (in.channels != 3 || in.height < 1 || in.height > 16384 || in.width < 1
      || in.width > 16384 || classes < 1) {
    fprintf (stderr, "loaded model has input %dx%dx%d and %d classes\n",
        in.channels, in.height, in.width, classes);
    abort ();
  }
  size_t n_in = (size_t) in.channels * in.height * in.width;
  if (n_in > RUN_MAX_INPUT_FLOATS)
    return;
  sn_context *ctx = NULL;
  sn_error err;
  memset (&err, 0x55, sizeof err);
  sn_status s = sn_context_create (model, 1, &ctx, &err);
  if (s != SN_OK) {
    check_refusal (s, ctx, &err);
    return;
  }
  float *x = calloc (n_in, sizeof (float));     /* [1][C][H][W] or [1][H][W][C], zeros */
  float *y = malloc (sizeof (float) * (size_t) classes);        /* [1][K] */
  if (x && y && sn_context_run (ctx, x, 1, y, &err) != SN_OK) {
    fprintf (stderr, "run of a loaded model failed: %s\n", err.message);
    abort ();
  }
  free (x);
  free (y);
  sn_context_free (ctx);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  sn_model *model = (sn_model *) 0x1;
  sn_error err;
  memset (&err, 0x55, sizeof err);      /* must be overwritten on failure */
  sn_status s = sn_model_load_memory (data, size, &model, &err);
  if (s != SN_OK) {
    check_refusal (s, model, &err);
    return 0;
  }
  run_once (model);
  sn_model_free (model);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Structure-aware mutation of a parsed ModelProto. Strings and arrays of
 * the unpacked message were allocated by protobuf-c's default allocator
 * (malloc), so they may be replaced with malloc'd copies and freed. */

static uint64_t rng;

static uint32_t
rnd (uint32_t n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return n ? (uint32_t) (rng % n) : 0;
}

/* Values at the edges of what the loader checks: empty, one, channel and
 * group counts, the input size limit, int32 and element-count overflow. */
static const int64_t interesting_ints[] = {
  0, 1, -1, 2, 3, 4, 7, 8, 16, 24, 224, 16384, 16385, 1 << 20,
  (int64_t) 1 << 28, (int64_t) 1 << 31, (int64_t) 1 << 40, INT64_MAX,
  INT64_MIN,
};

static int64_t
mutate_int (int64_t v)
{
  switch (rnd (3)) {
    case 0:
      return interesting_ints[rnd (sizeof interesting_ints / sizeof (int64_t))];
    case 1:                    /* small step, wrapping */
      return (int64_t) ((uint64_t) v + rnd (5) - 2);
    default:                   /* negate, wrapping */
      return (int64_t) (0 - (uint64_t) v);
  }
}

static float
mutate_float (float v)
{
  static const float special[] = { 0.0f, -0.0f, 1.0f, -1.0f, 1e-45f, 1e30f,
    -1e30f, 3.4e38f,
  };
  switch (rnd (4)) {
    case 0:
      return NAN;
    case 1:
      return rnd (2) ? INFINITY : -INFINITY;
    case 2:
      return special[rnd (sizeof special / sizeof (float))];
    default:
      return v * 2.0f;
  }
}

/* Ops the loader lowers, plus ones it must refuse. */
static const char *const op_types[] = {
  "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Mul",
  "Div", "Sub", "Add", "Identity", "Dropout", "Transpose", "Reshape",
  "Flatten", "Slice", "Split", "Concat", "Conv", "BatchNormalization",
  "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean",
  "Gemm", "MatMul", "Softmax", "Pad", "ConstantOfShape", "LeakyRelu", "If",
  "",
};

static void
replace_string (char **slot, const char *text)
{
  char *copy = strdup (text);
  if (copy == NULL)
    return;
  free (*slot);
  *slot = copy;
}

static void
mutate_tensor (Onnx__TensorProto * t)
{
  uint32_t what = rnd (4);
  if (what == 0 && t->n_dims) {
    size_t k = rnd (t->n_dims);
    t->dims[k] = mutate_int (t->dims[k]);
  } else if (what == 1 && t->n_dims >= 2) {     /* same count, other shape */
    size_t a = rnd (t->n_dims), b = rnd (t->n_dims);
    int64_t d = t->dims[a];
    t->dims[a] = t->dims[b];
    t->dims[b] = d;
  } else if (t->has_raw_data && t->raw_data.len >= 8) {
    size_t at = rnd (t->raw_data.len / 8) * 8;  /* an int64 or 2 floats */
    if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
      int64_t v;
      memcpy (&v, t->raw_data.data + at, 8);
      v = mutate_int (v);
      memcpy (t->raw_data.data + at, &v, 8);
    } else {
      float v;
      memcpy (&v, t->raw_data.data + at, 4);
      v = mutate_float (v);
      memcpy (t->raw_data.data + at, &v, 4);
    }
  } else if (t->n_int64_data) {
    size_t k = rnd (t->n_int64_data);
    t->int64_data[k] = mutate_int (t->int64_data[k]);
  } else if (t->n_float_data) {
    size_t k = rnd (t->n_float_data);
    t->float_data[k] = mutate_float (t->float_data[k]);
  } else if (t->has_data_type) {
    t->data_type = (int32_t) rnd (17);
  }
}

static void
mutate_attribute (Onnx__AttributeProto * a)
{
  if (a->n_ints) {
    size_t k = rnd (a->n_ints);
    a->ints[k] = mutate_int (a->ints[k]);
  } else if (a->has_i) {
    a->i = mutate_int (a->i);
  } else if (a->has_f) {
    a->f = mutate_float (a->f);
  } else if (a->t) {
    mutate_tensor (a->t);
  } else if (a->has_s && a->s.len) {
    a->s.data[rnd (a->s.len)] ^= (uint8_t) (1u << rnd (8));
  }
}

/* A name some node could read: a node output, an initializer, the input. */
static const char *
random_value_name (const Onnx__GraphProto * g)
{
  uint32_t pick = rnd (3);
  if (pick == 0 && g->n_initializer)
    return g->initializer[rnd (g->n_initializer)]->name;
  if (pick == 1 && g->n_input)
    return g->input[rnd (g->n_input)]->name;
  const Onnx__NodeProto *n = g->node[rnd (g->n_node)];
  return n->n_output ? n->output[rnd (n->n_output)] : "";
}

static void
mutate_node (Onnx__GraphProto * g, Onnx__NodeProto * n)
{
  switch (rnd (4)) {
    case 0:
      if (n->n_attribute) {
        mutate_attribute (n->attribute[rnd (n->n_attribute)]);
        break;
      }
      /* fall through */
    case 1:
      replace_string (&n->op_type,
          op_types[rnd (sizeof op_types / sizeof op_types[0])]);
      break;
    case 2:
      if (n->n_input) {
        const char *name = random_value_name (g);
        replace_string (&n->input[rnd (n->n_input)], name ? name : "");
      }
      break;
    default:                   /* drop the last input or attribute */
      if (n->n_input && rnd (2)) {
        free (n->input[--n->n_input]);
      } else if (n->n_attribute) {
        size_t k = rnd (n->n_attribute);
        onnx__attribute_proto__free_unpacked (n->attribute[k], NULL);
        n->attribute[k] = n->attribute[--n->n_attribute];
      }
      break;
  }
}

static void
mutate_input_dims (Onnx__GraphProto * g)
{
  const Onnx__ValueInfoProto *in = g->input[rnd (g->n_input)];
  if (in->type == NULL || in->type->value_case
      != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || in->type->tensor_type->shape
      == NULL || in->type->tensor_type->shape->n_dim == 0)
    return;
  Onnx__TensorShapeProto *shape = in->type->tensor_type->shape;
  Onnx__TensorShapeProto__Dimension *d = shape->dim[rnd (shape->n_dim)];
  int64_t old = 0;
  if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
    free (d->dim_param);
  else if (d->value_case
      == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
    old = d->dim_value;
  d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  d->dim_value = mutate_int (old);
}

static void
mutate_graph (Onnx__ModelProto * m)
{
  Onnx__GraphProto *g = m->graph;
  uint32_t what = rnd (10);
  if (what < 5) {
    mutate_node (g, g->node[rnd (g->n_node)]);
  } else if (what == 5 && g->n_initializer) {
    mutate_tensor (g->initializer[rnd (g->n_initializer)]);
  } else if (what == 6 && g->n_input) {
    mutate_input_dims (g);
  } else if (what == 7 && g->n_node > 1) {      /* break topological order */
    size_t a = rnd (g->n_node), b = rnd (g->n_node);
    Onnx__NodeProto *t = g->node[a];
    g->node[a] = g->node[b];
    g->node[b] = t;
  } else if (what == 8 && g->n_node > 1) {      /* delete a node */
    size_t k = rnd (g->n_node);
    onnx__node_proto__free_unpacked (g->node[k], NULL);
    memmove (&g->node[k], &g->node[k + 1],
        sizeof (g->node[0]) * (g->n_node - k - 1));
    g->n_node--;
  } else if (m->n_opset_import) {
    Onnx__OperatorSetIdProto *o = m->opset_import[rnd (m->n_opset_import)];
    o->version = rnd (2) ? (int64_t) rnd (20) : mutate_int (o->version);
  }
}

size_t
LLVMFuzzerCustomMutator (uint8_t * data, size_t size, size_t max_size,
    unsigned int seed)
{
  rng = (uint64_t) seed * 0x9E3779B97F4A7C15ull + 1;
  if (rnd (2) == 0)
    return LLVMFuzzerMutate (data, size, max_size);
  Onnx__ModelProto *m = onnx__model_proto__unpack (NULL, size, data);
  if (m == NULL || m->graph == NULL || m->graph->n_node == 0) {
    if (m)
      onnx__model_proto__free_unpacked (m, NULL);
    return LLVMFuzzerMutate (data, size, max_size);
  }
  for (uint32_t k = 1 + rnd (3); k > 0 && m->graph->n_node; k--)
    mutate_graph (m);
  size_t need = onnx__model_proto__get_packed_size (m);
  size_t out = need <= max_size ? onnx__model_proto__pack (m, data) : 0;
  onnx__model_proto__free_unpacked (m, NULL);
  return out ? out : LLVMFuzzerMutate (data, size, max_size);
}
