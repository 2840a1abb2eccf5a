"""A small, independent NumPy interpreter for the ONNX operators that
ShuffleNet v1 exports use (PyTorch, Megvii and Keras/tf2onnx layouts), in
float64. Written from the ONNX operator specification, independent of PyTorch,
ONNX Runtime and the engine; slow but plain, nothing is fused.

Its users: convert_megvii.py checks an exported file against PyTorch without
trusting PyTorch's own exporter, add_metadata.py checks its Pad folding, and
tests/variants/gen_models.py checks every random-weight variant it writes
(a wrong pad, auto_pad, slice or shuffle is caught before the engine sees it).

  run(model, {"input": x}) -> [outputs]   (x in the model's own layout)

Float tensors compute in float64, integer tensors (shapes, slice bounds) stay
int64. Unsupported operators or attributes, missing inputs and inconsistent
shapes raise OnnxNumpyError naming the node.
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


def _auto_pads(in_hw, kernel, strides, mode):
    """Pads [top, left, bottom, right] for auto_pad SAME_UPPER / SAME_LOWER:
    output size ceil(in / stride), the odd pixel at the end (UPPER) or at the
    beginning (LOWER)."""
    begin, end = [], []
    for size, k, s in zip(in_hw, kernel, strides):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        small = total // 2
        begin.append(small if mode == "SAME_UPPER" else total - small)
        end.append(total - begin[-1])
    return (begin[0], begin[1], end[0], end[1])


def _window_geometry(x, kernel, at):
    """Strides, pads [top, left, bottom, right] and output size of a 2-D
    window op on x [N, C, H, W], from explicit pads or auto_pad."""
    if x.ndim != 4 or len(kernel) != 2:
        raise OnnxNumpyError(f"only 2-D windows on NCHW input (input rank "
                             f"{x.ndim}, kernel {list(kernel)})")
    if at.get("ceil_mode", 0):
        raise OnnxNumpyError("ceil_mode=1 is not supported")
    if any(d != 1 for d in at.get("dilations", [1, 1])):
        raise OnnxNumpyError("dilations != 1 are not supported")
    sh, sw = at.get("strides", [1, 1])
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    elif auto == "VALID":
        pt, pl, pb, pr = 0, 0, 0, 0
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        pt, pl, pb, pr = _auto_pads(x.shape[2:], kernel, (sh, sw), auto)
    else:
        raise OnnxNumpyError(f"auto_pad={auto} is not supported")
    kh, kw = kernel
    oh = (x.shape[2] + pt + pb - kh) // sh + 1
    ow = (x.shape[3] + pl + pr - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise OnnxNumpyError(f"window {kh}x{kw} larger than the padded "
                             f"input {list(x.shape[2:])}")
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
    # count [1, 1, oh, ow]: input (not padding) pixels under each window
    ones = np.pad(np.ones((1, 1) + x.shape[2:]), pad)
    count = sum(v for _, _, v in _windows(ones, kernel, strides, out_hw))
    return total / count


def pad(x, ins, at):
    """Pad, constant mode: pads [begin..., end...] per axis, from input 1
    (opset >= 11) or the attribute (older opsets)."""
    if at.get("mode", "constant") != "constant":
        raise OnnxNumpyError(f"Pad mode {at['mode']} is not supported")
    pads = ins[1] if len(ins) > 1 and ins[1] is not None else at.get("pads")
    if pads is None:
        raise OnnxNumpyError("Pad without pads")
    pads = [int(p) for p in pads]
    rank = x.ndim
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise OnnxNumpyError(f"pads {pads} on rank {rank} (negative pads are "
                             f"not supported)")
    width = [(pads[i], pads[i + rank]) for i in range(rank)]
    value = ins[2] if len(ins) > 2 and ins[2] is not None else None
    fill = (float(np.asarray(value).reshape(-1)[0]) if value is not None
            else float(at.get("value", 0.0)))
    return np.pad(x, width, constant_values=fill)


def slice_(x, ins, at):
    """Slice: starts, ends, axes, steps from inputs 1-4 (opset >= 10) or the
    attributes (older opsets). Out-of-range bounds clamp as in Python."""
    if "starts" in at:
        starts, ends = at["starts"], at["ends"]
        axes, steps = at.get("axes"), None
    else:
        starts, ends = ins[1], ins[2]
        axes = ins[3] if len(ins) > 3 else None
        steps = ins[4] if len(ins) > 4 else None
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise OnnxNumpyError("starts, ends, axes and steps differ in length")
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if int(step) == 0:
            raise OnnxNumpyError("Slice step 0")
        index[int(axis)] = slice(int(start), int(end), int(step))
    return x[tuple(index)]


def reshape(x, shape):
    """ONNX Reshape: 0 copies the input dim, -1 is inferred."""
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def flatten(x, axis):
    """x [d0..dn] -> [d0*..*d(axis-1), d(axis)*..*dn]."""
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def reduce_mean(x, ins, at):
    """ReduceMean: axes from the attribute (opset < 18) or input 1; none
    given means all axes."""
    axes = at.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = [int(a) for a in ins[1]]
    if not axes:
        if at.get("noop_with_empty_axes", 0):
            return x
        axes = range(x.ndim)
    return x.mean(axis=tuple(axes), keepdims=bool(at.get("keepdims", 1)))


def gemm(a, b, c, at):
    """alpha * A' @ B' + beta * C; A' [M, K], B' [K, N], C broadcast to
    [M, N]."""
    a = a.T if at.get("transA", 0) else a
    b = b.T if at.get("transB", 0) else b
    y = at.get("alpha", 1.0) * (a @ b)
    return y if c is None else y + at.get("beta", 1.0) * c


def softmax(x, at, opset):
    """Opset >= 13: softmax along `axis` (default -1). Older opsets coerce x
    to 2-D [prod(dims before axis), rest] (default axis 1), softmax each row
    and reshape back; for [N, K] both are the plain row softmax."""
    axis = at.get("axis", -1 if opset >= 13 else 1)
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < x.ndim:
        raise OnnxNumpyError(f"Softmax axis {at.get('axis')} on rank {x.ndim}")
    if opset >= 13:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    flat = flatten(x, axis)  # [prod(dims before axis), rest]
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def batchnorm(x, scale, bias, mean, var, at):
    """Inference BatchNormalization: x [N, C, ...], the rest [C]."""
    eps = at.get("epsilon", 1e-5)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps)
            * scale.reshape(shp) + bias.reshape(shp))


def _opt(ins, i):
    """Optional input i, or None when absent or given as the empty name."""
    return ins[i] if len(ins) > i else None


# op type -> f(inputs, attributes, opset) -> one output array
_OPS = {
    "Conv": lambda ins, at, _: conv(ins[0], ins[1], _opt(ins, 2), at),
    "MaxPool": lambda ins, at, _: pool(ins[0], at, "max"),
    "AveragePool": lambda ins, at, _: pool(ins[0], at, "avg"),
    "GlobalAveragePool": lambda ins, at, _: ins[0].mean(
        axis=tuple(range(2, ins[0].ndim)), keepdims=True),
    "BatchNormalization": lambda ins, at, _: batchnorm(*ins[:5], at),
    "Pad": lambda ins, at, _: pad(ins[0], ins, at),
    "Slice": lambda ins, at, _: slice_(ins[0], ins, at),
    "Relu": lambda ins, at, _: np.maximum(ins[0], 0.0),
    "LeakyRelu": lambda ins, at, _: np.where(
        ins[0] > 0, ins[0], ins[0] * at.get("alpha", 0.01)),
    "Add": lambda ins, at, _: ins[0] + ins[1],
    "Mul": lambda ins, at, _: ins[0] * ins[1],
    "Concat": lambda ins, at, _: np.concatenate(ins, axis=at["axis"]),
    "Reshape": lambda ins, at, _: reshape(ins[0], ins[1]),
    "Flatten": lambda ins, at, _: flatten(ins[0], at.get("axis", 1)),
    "Transpose": lambda ins, at, _: np.transpose(ins[0], at.get("perm")),
    "ReduceMean": lambda ins, at, _: reduce_mean(ins[0], ins, at),
    "MatMul": lambda ins, at, _: ins[0] @ ins[1],
    "Gemm": lambda ins, at, _: gemm(ins[0], ins[1], _opt(ins, 2), at),
    "Softmax": lambda ins, at, opset: softmax(ins[0], at, opset),
    "Identity": lambda ins, at, _: ins[0],
    "Constant": lambda ins, at, _: at["value"],
}


def _eval_node(node, ins, opset):
    """One node: inputs (arrays or None) -> list of outputs. Any failure
    becomes an OnnxNumpyError naming the node."""
    where = f"node {node.name or node.op_type} ({node.op_type})"
    op = _OPS.get(node.op_type)
    if op is None or node.domain not in ("", "ai.onnx"):
        raise OnnxNumpyError(f"{where}: operator {node.domain or 'ai.onnx'}."
                             f"{node.op_type} is not supported")
    try:
        return [op(ins, _attrs(node), opset)]
    except OnnxNumpyError as e:
        raise OnnxNumpyError(f"{where}: {e}") from None
    except KeyError as e:
        raise OnnxNumpyError(f"{where}: missing attribute {e}") from None
    except (ValueError, IndexError, TypeError, AttributeError) as e:
        # numpy shape mismatches, a missing input, None where a tensor belongs
        raise OnnxNumpyError(f"{where}: {type(e).__name__}: {e}") from None


def _as_value(array):
    """Floats compute in float64; integer tensors (shapes) stay as they are."""
    array = np.asarray(array)
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def run(model, feeds):
    """Evaluate the graph of ModelProto `model` on feeds {name: array}
    (nodes in the file's topological order). Returns the graph outputs."""
    opset = max((o.version for o in model.opset_import
                 if o.domain in ("", "ai.onnx")), default=1)
    values = {t.name: _as_value(numpy_helper.to_array(t))
              for t in model.graph.initializer}
    missing = [i.name for i in model.graph.input
               if i.name not in values and i.name not in feeds]
    if missing:
        raise OnnxNumpyError(f"no value fed for graph input(s) {missing}")
    values.update({k: _as_value(v) for k, v in feeds.items()})
    for node in model.graph.node:
        try:
            ins = [values[name] if name else None for name in node.input]
        except KeyError as e:
            raise OnnxNumpyError(f"node {node.name or node.op_type}: input "
                                 f"{e} is not computed before it") from None
        outs = _eval_node(node, ins, opset)
        values.update(zip(node.output, map(_as_value, outs)))
    return [values[o.name] for o in model.graph.output]
