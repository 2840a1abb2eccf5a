"""A small, independent NumPy interpreter for the ONNX operators that
ShuffleNet v1 exports use, in float64. convert_megvii.py uses it to check an
exported file against PyTorch without trusting PyTorch's own exporter, and
the tests use it as a second reference. Slow but plain: every operator is
written from the ONNX operator specification, nothing is fused.

  run(model, {"input": x}) -> [outputs]   (x: NCHW array)

Unsupported operators or attributes raise OnnxNumpyError naming the node.
"""
import numpy as np
from onnx import numpy_helper


class OnnxNumpyError(ValueError):
    pass


def _attrs(node):
    """Node attributes as a dict name -> python value."""
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
        else:
            out[a.name] = None
    return out


def _window_geometry(x, kernel, at):
    """Strides, pads [top, left, bottom, right] and output size of a 2-D
    window op on x [N, C, H, W]."""
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise OnnxNumpyError(f"auto_pad={at['auto_pad']} is not supported")
    if at.get("ceil_mode", 0):
        raise OnnxNumpyError("ceil_mode=1 is not supported")
    if any(d != 1 for d in at.get("dilations", [1, 1])):
        raise OnnxNumpyError("dilations != 1 are not supported")
    sh, sw = at.get("strides", [1, 1])
    pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    kh, kw = kernel
    oh = (x.shape[2] + pt + pb - kh) // sh + 1
    ow = (x.shape[3] + pl + pr - kw) // sw + 1
    return (sh, sw), (pt, pl, pb, pr), (oh, ow)


def _windows(xp, kernel, strides, out_hw):
    """Yield (i, j, view) for each kernel tap: view [N, C, oh, ow] of the
    padded input xp [N, C, Hp, Wp] seen by tap (i, j)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, strides, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, :, i:i + sh * (oh - 1) + 1:sh,
                           j:j + sw * (ow - 1) + 1:sw]


def conv(x, w, b, at):
    """x [N, C, H, W], w [M, C/group, kh, kw], b [M] or None
    -> [N, M, oh, ow]."""
    n, c = x.shape[:2]
    m, cg, kh, kw = w.shape
    group = at.get("group", 1)
    if c != cg * group or m % group:
        raise OnnxNumpyError(f"Conv: input {c} channels, weight {w.shape}, "
                             f"group {group}")
    strides, (pt, pl, pb, pr), (oh, ow) = _window_geometry(x, (kh, kw), at)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    # cols [N, C, kh, kw, oh*ow]: im2col of every tap
    cols = np.empty((n, c, kh, kw, oh * ow), dtype=np.float64)
    for i, j, view in _windows(xp, (kh, kw), strides, (oh, ow)):
        cols[:, :, i, j] = view.reshape(n, c, oh * ow)
    cols = cols.reshape(n, group, cg * kh * kw, oh * ow)
    wg = w.reshape(group, m // group, cg * kh * kw)
    y = np.matmul(wg[None], cols)  # [N, group, M/group, oh*ow]
    y = y.reshape(n, m, oh, ow)
    if b is not None:
        y = y + b.reshape(1, m, 1, 1)
    return y


def pool(x, at, kind):
    """MaxPool / AveragePool, 2-D: x [N, C, H, W] -> [N, C, oh, ow]."""
    kernel = at["kernel_shape"]
    strides, (pt, pl, pb, pr), out_hw = _window_geometry(x, kernel, at)
    pad = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    if kind == "max":
        xp = np.pad(x, pad, constant_values=-np.inf)
        return np.max([v for _, _, v in _windows(xp, kernel, strides,
                                                  out_hw)], axis=0)
    total = sum(v for _, _, v in _windows(np.pad(x, pad), kernel, strides,
                                          out_hw))
    if at.get("count_include_pad", 0):
        return total / (kernel[0] * kernel[1])
    ones = np.pad(np.ones((1, 1) + x.shape[2:]), pad)
    count = sum(v for _, _, v in _windows(ones, kernel, strides, out_hw))
    return total / count


def pad(x, pads, value, at):
    """Pad (opset 11, constant mode): pads [begin..., end...] per axis."""
    if at.get("mode", "constant") != "constant":
        raise OnnxNumpyError(f"Pad mode {at['mode']} is not supported")
    pads = [int(p) for p in pads]
    if any(p < 0 for p in pads):
        raise OnnxNumpyError("negative pads are not supported")
    rank = x.ndim
    width = [(pads[i], pads[i + rank]) for i in range(rank)]
    fill = 0.0 if value is None else float(np.asarray(value).reshape(-1)[0])
    return np.pad(x, width, constant_values=fill)


def reshape(x, shape):
    """ONNX Reshape: 0 copies the input dim, -1 is inferred."""
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def gemm(a, b, c, at):
    a = a.T if at.get("transA", 0) else a
    b = b.T if at.get("transB", 0) else b
    y = at.get("alpha", 1.0) * (a @ b)
    return y if c is None else y + at.get("beta", 1.0) * c


def softmax(x, axis):
    # opset < 13 coerces to 2-D at `axis`; for [N, K] with axis 1 (or -1)
    # that is the plain row softmax.
    if x.ndim != 2 or axis not in (1, -1):
        raise OnnxNumpyError(f"Softmax on rank {x.ndim} axis {axis}")
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def batchnorm(x, scale, bias, mean, var, at):
    eps = at.get("epsilon", 1e-5)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps)
            * scale.reshape(shp) + bias.reshape(shp))


def _eval_node(op, ins, at):
    """One node: inputs (arrays or None) -> list of outputs."""
    if op == "Conv":
        return [conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)]
    if op == "MaxPool":
        return [pool(ins[0], at, "max")]
    if op == "AveragePool":
        return [pool(ins[0], at, "avg")]
    if op == "GlobalAveragePool":
        return [ins[0].mean(axis=(2, 3), keepdims=True)]
    if op == "BatchNormalization":
        return [batchnorm(*ins[:5], at)]
    if op == "Pad":
        return [pad(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)]
    if op == "Relu":
        return [np.maximum(ins[0], 0)]
    if op == "Add":
        return [ins[0] + ins[1]]
    if op == "Concat":
        return [np.concatenate(ins, axis=at["axis"])]
    if op == "Reshape":
        return [reshape(ins[0], ins[1])]
    if op == "Flatten":
        axis = at.get("axis", 1)
        return [ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)]
    if op == "Transpose":
        return [np.transpose(ins[0], at.get("perm"))]
    if op == "ReduceMean":
        return [ins[0].mean(axis=tuple(at["axes"]),
                            keepdims=bool(at.get("keepdims", 1)))]
    if op == "MatMul":
        return [ins[0] @ ins[1]]
    if op == "Gemm":
        return [gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)]
    if op == "Softmax":
        return [softmax(ins[0], at.get("axis", 1))]
    if op == "Identity":
        return [ins[0]]
    if op == "Constant":
        return [at["value"]]
    raise OnnxNumpyError(f"operator {op} is not supported")


def _as_value(array):
    """Floats compute in float64; integer tensors (shapes) stay as they are."""
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def run(model, feeds):
    """Evaluate the graph of ModelProto `model` on feeds {name: array}
    (nodes in the file's topological order). Returns the graph outputs."""
    values = {t.name: _as_value(numpy_helper.to_array(t))
              for t in model.graph.initializer}
    values.update({k: _as_value(np.asarray(v)) for k, v in feeds.items()})
    for node in model.graph.node:
        try:
            ins = [values[name] if name else None for name in node.input]
        except KeyError as e:
            raise OnnxNumpyError(f"node {node.name or node.op_type}: input "
                                 f"{e} is not computed before it") from None
        try:
            outs = _eval_node(node.op_type, ins, _attrs(node))
        except OnnxNumpyError as e:
            raise OnnxNumpyError(f"node {node.name or node.op_type} "
                                 f"({node.op_type}): {e}") from None
        values.update(zip(node.output, outs))
    return [values[o.name] for o in model.graph.output]
