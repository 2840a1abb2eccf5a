/* onnx_graph.h - checked access to a parsed ONNX model (protobuf-c structs
 * generated at build time from Debian's onnx.proto). Everything here
 * validates sizes against the bytes actually present: a loader fed random
 * bytes returns an error, it never reads out of bounds. */
#ifndef SN_ONNX_GRAPH_H
#define SN_ONNX_GRAPH_H

#include <stdint.h>

#include "onnx.pb-c.h"
#include "shufflenet.h"

/* Parse `size` bytes. On success *model must be freed with
 * onnx__model_proto__free_unpacked (model, NULL). */
sn_status sn_onnx_parse (const void *data, size_t size,
    Onnx__ModelProto **model, sn_error *err);

/* The default ONNX opset version imported by the model (0 if none). */
int64_t sn_onnx_opset (const Onnx__ModelProto *model);

/* Attributes: NULL / the default when the attribute is absent. */
const Onnx__AttributeProto *sn_attr (const Onnx__NodeProto *node,
    const char *name);
int64_t sn_attr_int (const Onnx__NodeProto *node, const char *name,
    int64_t dflt);
float sn_attr_float (const Onnx__NodeProto *node, const char *name,
    float dflt);
/* Copies the string into buf (NUL-terminated, truncated to len-1). */
const char *sn_attr_string (const Onnx__NodeProto *node, const char *name,
    const char *dflt, char *buf, size_t len);
/* Number of ints of attribute `name` (0 when absent); *vals points into the
 * model. */
size_t sn_attr_ints (const Onnx__NodeProto *node, const char *name,
    const int64_t **vals);

/* Element count of a tensor from its dims; -1 on negative dims or overflow
 * past SN_MAX_ELEMENTS. */
#define SN_MAX_ELEMENTS ((int64_t) 1 << 28)
int64_t sn_tensor_numel (const Onnx__TensorProto *t);

/* Copy a FLOAT tensor's data into a new malloc'd array of numel floats
 * (raw_data or float_data). Checks the stored size matches the dims and
 * that every value is finite. */
sn_status sn_tensor_to_floats (const Onnx__TensorProto *t, const char *what,
    float **out, int64_t *numel, sn_error *err);
/* Copy an INT64 or INT32 tensor's data into a new malloc'd int64 array. */
sn_status sn_tensor_to_int64s (const Onnx__TensorProto *t, const char *what,
    int64_t **out, int64_t *numel, sn_error *err);

#endif /* SN_ONNX_GRAPH_H */
