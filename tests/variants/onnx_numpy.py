"""A tiny float64 numpy interpreter for the ONNX operators that ShuffleNet v1
exports use.  gen_models.py runs every file it writes through it and compares
with PyTorch, so a wrong pad, auto_pad, slice or shuffle written by the
generator is caught before the engine ever sees the file.

Independent of PyTorch and of the engine: every operator is written from the
ONNX operator specification.  Tensors are numpy float64 arrays (int64 for
shape/index tensors); image tensors are NCHW after the graph's own Transpose.

    run(model, x) -> list of output arrays, in graph-output order
"""
import numpy as np
from onnx import numpy_helper


class UnsupportedOp(Exception):
    pass


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
    return out


def _pads(x_hw, at, k, s):
    """Pads (top, left, bottom, right) of a 2-D window op, from explicit pads
    or auto_pad.  x_hw: (H, W) of the input."""
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        p = at.get("pads", [0, 0, 0, 0])
        return p[0], p[1], p[2], p[3]
    if auto == "VALID":
        return 0, 0, 0, 0
    begin, end = [], []
    for size, kk, ss in zip(x_hw, k, s):
        out = -(-size // ss)
        total = max((out - 1) * ss + kk - size, 0)
        small = total // 2
        if auto == "SAME_UPPER":
            begin.append(small)
            end.append(total - small)
        else:
            begin.append(total - small)
            end.append(small)
    return begin[0], begin[1], end[0], end[1]


def _windows(xp, k, s):
    """All k[0]*k[1] strided views of a padded NCHW array xp: a list of
    [N, C, Ho, Wo] arrays, one per kernel tap, row-major over (ky, kx)."""
    ho = (xp.shape[2] - k[0]) // s[0] + 1
    wo = (xp.shape[3] - k[1]) // s[1] + 1
    views = []
    for ky in range(k[0]):
        for kx in range(k[1]):
            views.append(xp[:, :, ky:ky + (ho - 1) * s[0] + 1:s[0],
                            kx:kx + (wo - 1) * s[1] + 1:s[1]])
    return views


def _pad_nchw(x, pads, value):
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def op_conv(ins, at):
    x, w = ins[0], ins[1]              # x [N, Cin, H, W]; w [Cout, Cin/g, kh, kw]
    g = at.get("group", 1)
    k = list(w.shape[2:])
    s = at.get("strides", [1, 1])
    if at.get("dilations", [1, 1]) != [1, 1]:
        raise UnsupportedOp("Conv dilations")
    xp = _pad_nchw(x, _pads(x.shape[2:], at, k, s), 0.0)
    taps = _windows(xp, k, s)                       # k*k x [N, Cin, Ho, Wo]
    n, cin = x.shape[:2]
    ho, wo = taps[0].shape[2:]
    cols = np.stack(taps, axis=2)                   # [N, Cin, kk, Ho, Wo]
    cols = cols.reshape(n, g, (cin // g) * len(taps), ho * wo)
    wg = w.reshape(g, w.shape[0] // g, -1)          # [g, Cout/g, Cin/g*kk]
    y = np.matmul(wg[None], cols)                   # [N, g, Cout/g, Ho*Wo]
    y = y.reshape(n, w.shape[0], ho, wo)
    if len(ins) > 2:
        y = y + ins[2].reshape(1, -1, 1, 1)
    return y


def op_pool(ins, at, kind):
    x = ins[0]                                      # [N, C, H, W]
    k = at["kernel_shape"]
    s = at.get("strides", [1, 1])
    if at.get("ceil_mode", 0):
        raise UnsupportedOp("pool ceil_mode")
    pads = _pads(x.shape[2:], at, k, s)
    if kind == "max":
        return np.max(np.stack(_windows(_pad_nchw(x, pads, -np.inf), k, s)), 0)
    total = np.sum(np.stack(_windows(_pad_nchw(x, pads, 0.0), k, s)), 0)
    if at.get("count_include_pad", 0):
        return total / (k[0] * k[1])
    ones = np.ones((1, 1) + x.shape[2:])
    count = np.sum(np.stack(_windows(_pad_nchw(ones, pads, 0.0), k, s)), 0)
    return total / count


def op_slice(ins, at):
    x = ins[0]
    starts, ends = ins[1], ins[2]
    axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
    steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        idx[int(ax)] = slice(int(st), int(min(en, 2 ** 62)), int(sp))
    return x[tuple(idx)]


def op_reshape(ins, at):
    x, shape = ins[0], [int(v) for v in ins[1]]
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def op_bn(ins, at):
    x, gamma, beta, mean, var = ins                 # x [N, C, H, W]; rest [C]
    eps = at.get("epsilon", 1e-5)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    scale = gamma / np.sqrt(var + eps)
    return (x - mean.reshape(shp)) * scale.reshape(shp) + beta.reshape(shp)


def op_gemm(ins, at):
    a, b = ins[0], ins[1]
    if at.get("transA", 0):
        a = a.T
    if at.get("transB", 0):
        b = b.T
    y = at.get("alpha", 1.0) * (a @ b)
    if len(ins) > 2 and ins[2] is not None:
        y = y + at.get("beta", 1.0) * ins[2]
    return y


def op_softmax(ins, at, opset):
    x = ins[0]
    axis = at.get("axis", 1 if opset < 13 else -1)
    if opset < 13:      # coerce to 2-D at axis
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        e = np.exp(flat - flat.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).reshape(x.shape)
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _run_node(node, ins, opset):
    at = _attrs(node)
    t = node.op_type
    simple = {
        "Relu": lambda: np.maximum(ins[0], 0.0),
        "LeakyRelu": lambda: np.where(ins[0] > 0, ins[0], ins[0] * at.get("alpha", 0.01)),
        "Add": lambda: ins[0] + ins[1],
        "Mul": lambda: ins[0] * ins[1],
        "Identity": lambda: ins[0],
        "Constant": lambda: at["value"],
        "Transpose": lambda: np.transpose(ins[0], at["perm"]),
        "Concat": lambda: np.concatenate(ins, axis=at["axis"]),
        "MatMul": lambda: ins[0] @ ins[1],
        "Flatten": lambda: ins[0].reshape(int(np.prod(ins[0].shape[:at.get("axis", 1)])), -1),
        "GlobalAveragePool": lambda: ins[0].mean((2, 3), keepdims=True),
        "ReduceMean": lambda: ins[0].mean(tuple(at["axes"]), keepdims=bool(at.get("keepdims", 1))),
        "Conv": lambda: op_conv(ins, at),
        "MaxPool": lambda: op_pool(ins, at, "max"),
        "AveragePool": lambda: op_pool(ins, at, "avg"),
        "Slice": lambda: op_slice(ins, at),
        "Reshape": lambda: op_reshape(ins, at),
        "BatchNormalization": lambda: op_bn(ins, at),
        "Gemm": lambda: op_gemm(ins, at),
        "Softmax": lambda: op_softmax(ins, at, opset),
        "Pad": lambda: op_pad(ins, at),
    }
    if t not in simple:
        raise UnsupportedOp(f"{node.name}: {t}")
    return simple[t]()


def op_pad(ins, at):
    x, pads = ins[0], [int(v) for v in ins[1]]
    if at.get("mode", "constant") != "constant":
        raise UnsupportedOp("Pad mode")
    value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
    r = x.ndim
    return np.pad(x, [(pads[i], pads[i + r]) for i in range(r)], constant_values=value)


def run(model, x):
    """Run `model` (onnx.ModelProto) on the numpy input x (its only input, in
    the model's own layout); returns the graph outputs as float64 arrays."""
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    env = {}
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        env[init.name] = a.astype(np.float64) if a.dtype == np.float32 else a
    env[model.graph.input[0].name] = np.asarray(x, dtype=np.float64)
    for node in model.graph.node:
        ins = [env[i] if i else None for i in node.input]
        out = _run_node(node, ins, opset)
        if isinstance(out, np.ndarray) and out.dtype == np.float32:
            out = out.astype(np.float64)
        env[node.output[0]] = out
    return [env[o.name] for o in model.graph.output]
