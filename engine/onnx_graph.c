/* onnx_graph.c - checked access to a parsed ONNX model. */
#include "onnx_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

sn_status
sn_onnx_parse (const void *data, size_t size, Onnx__ModelProto **model,
    sn_error *err)
{
  *model = NULL;
  if (size == 0)
    return sn_set_error (err, SN_ERR_PARSE, "empty model (0 bytes)");
  Onnx__ModelProto *m = onnx__model_proto__unpack (NULL, size, data);
  if (m == NULL)
    return sn_set_error (err, SN_ERR_PARSE,
        "not an ONNX model: the %zu bytes do not parse as an ONNX ModelProto",
        size);
  if (m->graph == NULL || m->graph->n_node == 0) {
    onnx__model_proto__free_unpacked (m, NULL);
    return sn_set_error (err, SN_ERR_PARSE,
        "not an ONNX model: no graph or an empty graph");
  }
  *model = m;
  return SN_OK;
}

int64_t
sn_onnx_opset (const Onnx__ModelProto *model)
{
  for (size_t i = 0; i < model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = model->opset_import[i];
    if ((o->domain == NULL || o->domain[0] == '\0'
            || strcmp (o->domain, "ai.onnx") == 0) && o->has_version)
      return o->version;
  }
  return 0;
}

const Onnx__AttributeProto *
sn_attr (const Onnx__NodeProto *node, const char *name)
{
  for (size_t i = 0; i < node->n_attribute; i++)
    if (node->attribute[i]->name && strcmp (node->attribute[i]->name, name) == 0)
      return node->attribute[i];
  return NULL;
}

int64_t
sn_attr_int (const Onnx__NodeProto *node, const char *name, int64_t dflt)
{
  const Onnx__AttributeProto *a = sn_attr (node, name);
  return a && a->has_i ? a->i : dflt;
}

float
sn_attr_float (const Onnx__NodeProto *node, const char *name, float dflt)
{
  const Onnx__AttributeProto *a = sn_attr (node, name);
  return a && a->has_f ? a->f : dflt;
}

const char *
sn_attr_string (const Onnx__NodeProto *node, const char *name,
    const char *dflt, char *buf, size_t len)
{
  const Onnx__AttributeProto *a = sn_attr (node, name);
  if (a == NULL || !a->has_s)
    return dflt;
  size_t n = a->s.len < len - 1 ? a->s.len : len - 1;
  memcpy (buf, a->s.data, n);
  buf[n] = '\0';
  return buf;
}

size_t
sn_attr_ints (const Onnx__NodeProto *node, const char *name,
    const int64_t **vals)
{
  const Onnx__AttributeProto *a = sn_attr (node, name);
  *vals = a ? a->ints : NULL;
  return a ? a->n_ints : 0;
}

int64_t
sn_tensor_numel (const Onnx__TensorProto *t)
{
  int64_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || t->dims[i] > SN_MAX_ELEMENTS)
      return -1;
    n *= t->dims[i];
    if (n > SN_MAX_ELEMENTS)
      return -1;
  }
  return n;
}

static sn_status
check_stored (const Onnx__TensorProto *t, const char *what, int64_t numel,
    size_t elem_size, size_t n_typed, sn_error *err)
{
  if (t->has_data_location
      && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return sn_set_error (err, SN_ERR_UNSUPPORTED,
        "%s: external tensor data is not supported (save the model with "
        "its weights inside)", what);
  size_t stored = t->has_raw_data ? t->raw_data.len / elem_size : n_typed;
  if (t->has_raw_data && t->raw_data.len % elem_size != 0)
    stored = (size_t) -1;
  if (stored != (size_t) numel)
    return sn_set_error (err, SN_ERR_PARSE,
        "%s: dims say %lld elements but %zu are stored", what,
        (long long) numel, stored);
  return SN_OK;
}

sn_status
sn_tensor_to_floats (const Onnx__TensorProto *t, const char *what,
    float **out, int64_t *numel, sn_error *err)
{
  *out = NULL;
  if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return sn_set_error (err, SN_ERR_UNSUPPORTED,
        "%s: tensor data type %d is not float32", what, (int) t->data_type);
  int64_t n = sn_tensor_numel (t);
  if (n < 0)
    return sn_set_error (err, SN_ERR_PARSE, "%s: invalid or huge dims", what);
  sn_status s = check_stored (t, what, n, sizeof (float), t->n_float_data, err);
  if (s != SN_OK)
    return s;
  float *v = malloc (sizeof (float) * (size_t) (n ? n : 1));
  if (v == NULL)
    return sn_set_error (err, SN_ERR_NOMEM, "%s: out of memory", what);
  if (t->has_raw_data)
    memcpy (v, t->raw_data.data, sizeof (float) * (size_t) n);  /* little endian */
  else if (n)
    memcpy (v, t->float_data, sizeof (float) * (size_t) n);
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite (v[i])) {
      free (v);
      return sn_set_error (err, SN_ERR_PARSE,
          "%s: element %lld is not finite (NaN or infinity)", what,
          (long long) i);
    }
  }
  *out = v;
  *numel = n;
  return SN_OK;
}

sn_status
sn_tensor_to_int64s (const Onnx__TensorProto *t, const char *what,
    int64_t **out, int64_t *numel, sn_error *err)
{
  *out = NULL;
  bool is64 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  bool is32 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
  if (!is64 && !is32)
    return sn_set_error (err, SN_ERR_UNSUPPORTED,
        "%s: tensor data type %d is not an integer", what, (int) t->data_type);
  int64_t n = sn_tensor_numel (t);
  if (n < 0 || n > 4096)
    return sn_set_error (err, SN_ERR_PARSE, "%s: invalid integer tensor dims",
        what);
  sn_status s = check_stored (t, what, n, is64 ? 8 : 4,
      is64 ? t->n_int64_data : t->n_int32_data, err);
  if (s != SN_OK)
    return s;
  int64_t *v = malloc (sizeof (int64_t) * (size_t) (n ? n : 1));
  if (v == NULL)
    return sn_set_error (err, SN_ERR_NOMEM, "%s: out of memory", what);
  for (int64_t i = 0; i < n; i++) {
    if (t->has_raw_data && is64)
      memcpy (&v[i], t->raw_data.data + 8 * i, 8);
    else if (t->has_raw_data) {
      int32_t x;
      memcpy (&x, t->raw_data.data + 4 * i, 4);
      v[i] = x;
    } else
      v[i] = is64 ? t->int64_data[i] : t->int32_data[i];
  }
  *out = v;
  *numel = n;
  return SN_OK;
}
