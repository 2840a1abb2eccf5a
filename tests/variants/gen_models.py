#!/usr/bin/python3
"""Generate the ShuffleNet v1 ONNX variants the engine must run, with random
weights and non-trivial BatchNorm statistics, plus a reference input and the
PyTorch output for each.

Usage: gen_models.py [--seed S] [--only NAME[,NAME]] [--jobs J] [--no-verify] OUTDIR

Writes OUTDIR/NAME.onnx, NAME.in.npy (float32, the model's input layout:
[N,3,H,W] or [N,H,W,3]), NAME.out.npy (float32 [N, classes]: logits, or
probabilities when the model ends in Softmax) and OUTDIR/manifest.json (last,
so it doubles as the build stamp).  Every file passes onnx.checker and, unless
--no-verify, a float64 numpy interpretation of the written graph
(models/onnx_numpy.py) must agree with PyTorch.

Three families, each one a PyTorch module exported with torch.onnx.export:
  pytorch  NCHW; grouped Conv attribute; symmetric pads; the stride-2 average
           pool counts padding (exported as Pad + AveragePool) or not.
  megvii   the layout of Megvii's official checkpoints: ungrouped first
           pointwise conv of stage 2, shuffle after the depthwise conv in the
           inverse direction, relu only on the branch of stride-2 units,
           head without bias.
  keras    what tf2onnx writes for the Keras design: NHWC input + Transpose,
           TF "same" padding (explicit asymmetric pads or auto_pad SAME_UPPER),
           average pool excluding padding, BN eps 1e-3, grouped 1x1 convs as
           Slice -> Conv per group -> Concat with int(out/g + 0.5) outputs,
           MatMul + Add (+ Softmax) head.
PyTorch cannot express some Keras details, so those layers are autograd
Functions whose forward computes the exact Keras numerics (F.pad + conv,
sum / count) and whose ONNX symbolic writes the node tf2onnx writes
(asymmetric pads or auto_pad on Conv/MaxPool/AveragePool).  After export the
graph is only touched to drop dead nodes and, for auto_pad variants, to turn
the 1x1 convs' zero pads into auto_pad too.
"""
import argparse
import dataclasses
import io
import json
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
# the float64 ONNX interpreter shared with the converter in models/
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
import onnx_numpy  # noqa: E402

STAGE_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
                4: (272, 544, 1088), 8: (384, 768, 1536)}
REPEATS = (3, 7, 3)             # stride-1 units after each stride-2 unit
DEFAULT_SEED = 1707


@dataclasses.dataclass
class Variant:
    """One model file: architecture, export style and test input."""
    name: str
    family: str                 # "pytorch" | "megvii" | "keras"
    groups: int
    scale: float
    height: int
    width: int
    classes: int = 10
    batch: int = 1
    dynamic_batch: bool = False  # input dim 0 is the symbol "N"
    opset: int = 11
    stem: int = 24              # conv1 output channels
    stem_bn: bool = True        # False: conv1 -> Relu (the Keras original)
    bn_nodes: bool = False      # keep BatchNormalization nodes (else folded)
    first_grouped: bool = True  # first pointwise conv of stage 2 grouped
    shuffle_at: str = "dw"      # "pw1": after pw1+BN+ReLU; "dw": after dw+BN
    shuffle_dir: str = "textbook"  # or "inverse" (Megvii)
    shuffle_g1: bool = False    # write the (identity) shuffle when groups == 1
    pool_include_pad: bool = True  # stride-2 avg pool of pytorch/megvii: torch
                                   # writes Pad(0) -> AveragePool for True
    s2_relu: str = "concat"     # "concat": relu(cat); "branch": cat(p, relu(b))
    pad: str = "sym"            # "sym" | "explicit" | "auto_pad" (keras)
    # global pool: ReduceMean(keepdims=0) | ReduceMean(keepdims=1) + Flatten |
    # GlobalAveragePool + Flatten | AveragePool(final size) + Reshape (Megvii)
    gpool: str = "reduce_mean"  # | "reduce_mean_keep" | "global_avg" | "avgpool"
    # classifier: nn.Linear -> Gemm; nn.Linear(bias=False) -> MatMul with a
    # [C, K] initializer; x @ W -> MatMul; x @ W + b -> MatMul + Add (tf2onnx)
    head: str = "gemm"          # | "gemm_nobias" | "matmul" | "matmul_add"
    softmax: bool = False
    unsupported: str = ""       # op written in place of one Relu

    @property
    def layout(self):
        return "NHWC" if self.family == "keras" else "NCHW"

    @property
    def bn_eps(self):
        return 1e-3 if self.family == "keras" else 1e-5


def V(name, family, groups, scale, hw, **kw):
    h, w = hw if isinstance(hw, tuple) else (hw, hw)
    if family == "megvii":
        kw = dict(dict(first_grouped=False, shuffle_at="dw", shuffle_dir="inverse",
                       s2_relu="branch", head="matmul", pool_include_pad=True), **kw)
    if family == "keras":
        kw = dict(dict(pad="explicit", bn_nodes=True, shuffle_at="pw1",
                       shuffle_g1=True, head="matmul_add", softmax=True), **kw)
    return Variant(name, family, groups, scale, h, w, **kw)


# Names: family_gG_SCALEx_HxW plus what is special.  Batch > 1 where _bN.
VARIANTS = [
    # PyTorch-style exports (torch.onnx.export folds BN into the convs unless
    # _bn: then BatchNormalization nodes with eps 1e-5 stay).
    V("pt_g3_1x_224", "pytorch", 3, 1.0, 224, classes=1000),
    V("pt_g1_1x_64", "pytorch", 1, 1.0, 64, gpool="global_avg"),
    V("pt_g1_0.5x_48x40_shuffle", "pytorch", 1, 0.5, (48, 40), shuffle_g1=True,
      shuffle_at="pw1", head="matmul"),
    V("pt_g2_1x_56_b2_softmax", "pytorch", 2, 1.0, 56, batch=2, shuffle_at="pw1",
      head="matmul", softmax=True, classes=100),
    V("pt_g4_1x_64_exclpad", "pytorch", 4, 1.0, 64, pool_include_pad=False,
      first_grouped=False),
    V("pt_g8_1x_64", "pytorch", 8, 1.0, 64, gpool="global_avg", head="gemm_nobias"),
    V("pt_g3_2x_40x56", "pytorch", 3, 2.0, (40, 56), head="matmul_add"),
    V("pt_g3_1.5x_33", "pytorch", 3, 1.5, 33, shuffle_at="pw1"),
    V("pt_g3_0.25x_32", "pytorch", 3, 0.25, 32),
    V("pt_g8_0.25x_47x65_b3_dyn", "pytorch", 8, 0.25, (47, 65), batch=3,
      dynamic_batch=True, pool_include_pad=False),
    V("pt_g2_0.5x_72_bn_op13", "pytorch", 2, 0.5, 72, bn_nodes=True, opset=13,
      softmax=True, classes=100),
    V("pt_g4_2x_36x52_op13", "pytorch", 4, 2.0, (36, 52), opset=13, softmax=True,
      gpool="global_avg"),
    V("pt_g3_0.5x_64_inverse", "pytorch", 3, 0.5, 64, shuffle_at="pw1",
      shuffle_dir="inverse"),
    V("pt_g3_1x_50_keepdims", "pytorch", 3, 1.0, 50, gpool="reduce_mean_keep",
      head="matmul_add", dynamic_batch=True, batch=2),
    # Megvii's official layout (the g3/g8 0.5x checkpoints have this exact shape).
    V("megvii_g3_0.5x_224", "megvii", 3, 0.5, 224, stem=12, classes=1000,
      gpool="avgpool"),
    V("megvii_g8_0.5x_96_b2", "megvii", 8, 0.5, 96, stem=16, batch=2,
      classes=100, gpool="global_avg"),
    V("megvii_g3_1x_64x48_bn_dyn", "megvii", 3, 1.0, (64, 48), bn_nodes=True,
      dynamic_batch=True, batch=2),
    V("megvii_g2_1x_57x71", "megvii", 2, 1.0, (57, 71), opset=13),
    # Keras design as tf2onnx writes it (NHWC input).
    V("keras_g3_1x_224", "keras", 3, 1.0, 224, classes=1000),
    V("keras_g3_0.5x_96_autopad", "keras", 3, 0.5, 96, stem=12, pad="auto_pad"),
    V("keras_g1_1x_64_nostembn", "keras", 1, 1.0, 64, stem_bn=False),
    V("keras_g2_0.75x_64_autopad", "keras", 2, 0.75, 64, pad="auto_pad"),
    V("keras_g4_0.25x_48", "keras", 4, 0.25, 48, stem_bn=False),
    V("keras_g4_1.5x_40_autopad", "keras", 4, 1.5, 40, pad="auto_pad"),
    V("keras_g8_0.5x_65x49_b2_dyn", "keras", 8, 0.5, (65, 49), pad="auto_pad",
      batch=2, dynamic_batch=True),
    V("keras_g2_1x_32_bnfolded", "keras", 2, 1.0, 32, bn_nodes=False),
    V("keras_g3_1x_80x64_logits_op13", "keras", 3, 1.0, (80, 64), softmax=False,
      opset=13, gpool="global_avg", batch=3),
    # Must be refused: one Relu replaced by LeakyRelu (the only odd node in it).
    V("unsupported_leakyrelu", "pytorch", 3, 0.5, 32, unsupported="LeakyRelu",
      pool_include_pad=False),
]


# ---------------------------------------------------------------- channel plan

@dataclasses.dataclass
class UnitPlan:
    cin: int            # channels of the unit input tensor
    cin_nominal: int    # what the Keras code believes it is (slice width source)
    stride: int
    g_pw1: int          # groups of the first pointwise conv
    mid: int            # channels pw1 writes (after Keras rounding)
    mid_nominal: int    # bottleneck width as computed (int(out / 4))
    branch: int         # channels pw2 writes
    branch_nominal: int
    cout: int           # channels of the unit output tensor


def plan_units(v):
    """Channel widths of all 16 units (bottleneck = stage width // 4).
    PyTorch/Megvii: the bottleneck rounded to a multiple of the groups (only
    g2 0.5x needs it: 25 -> 24).  Keras: every grouped 1x1 conv writes
    g * int(out / g + 0.5) channels and reads g slices of cin_nominal // g
    channels: in stage 2, g4 0.25x / g4 1.5x / g2 0.75x get bottlenecks of
    16 / 104 / 38 channels of which pw2 reads 16 / 100 / 36."""
    g = v.groups
    widths = [int(c * v.scale) for c in STAGE_WIDTHS[g]]
    cin = cin_nom = v.stem
    plans = []
    for stage, reps in enumerate(REPEATS):
        out = widths[stage]
        for unit in range(reps + 1):
            stride = 2 if unit == 0 else 1
            g1 = 1 if (stage == 0 and unit == 0 and not v.first_grouped) else g
            mid_nom = out // 4
            br_nom = out - cin_nom if stride == 2 else out
            if v.family == "keras":
                mid = g1 * int(mid_nom / g1 + 0.5)
                branch = g * int(br_nom / g + 0.5)
            else:
                mid = max(g, g * round(mid_nom / g))
                branch = br_nom
                assert cin % g1 == 0 and branch % g == 0, (v.name, cin, branch)
            cout = cin + branch if stride == 2 else cin
            if stride == 1:
                assert branch == cin, f"{v.name}: residual {branch} != {cin}"
            plans.append(UnitPlan(cin, cin_nom, stride, g1, mid, mid_nom,
                                  branch, br_nom, cout))
            cin, cin_nom = cout, out
    return plans


# ------------------------------------------------------ Keras-exact TF layers

def tf_same_pads(hw, k, s):
    """TF "same" pads (top, left, bottom, right) for a k x k window, stride s,
    on an input of (H, W): the odd pixel goes to the bottom/right."""
    pads = []
    for size in hw:
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads[0][0], pads[1][0], pads[0][1], pads[1][1]


def _window_attrs(pads, auto_pad, k, s):
    a = dict(kernel_shape_i=[k, k], strides_i=[s, s])
    if auto_pad:
        a["auto_pad_s"] = "SAME_UPPER"
    else:
        a["pads_i"] = list(pads)
    return a


class TfConv(torch.autograd.Function):
    """3x3 conv with TF "same" padding.  x [N, Cin, H, W]; w [Cout, Cin/g, 3, 3]."""

    @staticmethod
    def forward(ctx, x, w, stride, groups, pads, auto_pad):
        t, l, b, r = pads
        return F.conv2d(F.pad(x, (l, r, t, b)), w, None, stride, 0, 1, groups)

    @staticmethod
    def symbolic(g, x, w, stride, groups, pads, auto_pad):
        return g.op("Conv", x, w, group_i=groups, dilations_i=[1, 1],
                    **_window_attrs(pads, auto_pad, 3, stride))


class TfMaxPool(torch.autograd.Function):
    """3x3/2 max pool, TF "same" padding (pads never win: -inf)."""

    @staticmethod
    def forward(ctx, x, pads, auto_pad):
        t, l, b, r = pads
        return F.max_pool2d(F.pad(x, (l, r, t, b), value=-float("inf")), 3, 2)

    @staticmethod
    def symbolic(g, x, pads, auto_pad):
        return g.op("MaxPool", x, **_window_attrs(pads, auto_pad, 3, 2))


class TfAvgPool(torch.autograd.Function):
    """3x3/2 average pool, TF "same" padding, padding excluded from the count:
    window sum / number of real pixels in the window."""

    @staticmethod
    def forward(ctx, x, pads, auto_pad):
        t, l, b, r = pads
        total = F.avg_pool2d(F.pad(x, (l, r, t, b)), 3, 2, divisor_override=1)
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
        count = F.avg_pool2d(F.pad(ones, (l, r, t, b)), 3, 2, divisor_override=1)
        return total / count

    @staticmethod
    def symbolic(g, x, pads, auto_pad):
        return g.op("AveragePool", x, count_include_pad_i=0,
                    **_window_attrs(pads, auto_pad, 3, 2))


def hw_of(x):
    return int(x.shape[2]), int(x.shape[3])


class TfConv3x3(nn.Module):
    def __init__(self, cin, cout, stride, groups, auto_pad):
        super().__init__()
        self.weight = nn.Parameter(nn.Conv2d(cin, cout, 3, groups=groups,
                                             bias=False).weight.detach())
        self.stride, self.groups, self.auto_pad = stride, groups, auto_pad

    def forward(self, x):
        pads = tf_same_pads(hw_of(x), 3, self.stride)
        return TfConv.apply(x, self.weight, self.stride, self.groups, pads,
                            self.auto_pad)


class TfPool(nn.Module):
    def __init__(self, kind, auto_pad):
        super().__init__()
        self.fn = TfMaxPool if kind == "max" else TfAvgPool
        self.auto_pad = auto_pad

    def forward(self, x):
        return self.fn.apply(x, tf_same_pads(hw_of(x), 3, 2), self.auto_pad)


class SliceGroupConv(nn.Module):
    """Keras grouped 1x1 conv: g slices of cin_nominal // g channels, one Conv
    of int(out / g + 0.5) outputs each, concatenated.  Slices read channels
    [i*ig, (i+1)*ig), so trailing input channels may be unused."""

    def __init__(self, cin_nominal, out_nominal, groups):
        super().__init__()
        self.ig = cin_nominal // groups
        og = int(out_nominal / groups + 0.5)
        self.convs = nn.ModuleList(nn.Conv2d(self.ig, og, 1, bias=False)
                                   for _ in range(groups))

    def forward(self, x):
        parts = [conv(x[:, i * self.ig:(i + 1) * self.ig])
                 for i, conv in enumerate(self.convs)]
        return torch.cat(parts, 1)


# ------------------------------------------------------------- shared layers

class Shuffle(nn.Module):
    """Channel shuffle as Reshape -> Transpose -> Reshape.
    textbook: [N,C,H,W] -> [N,g,C/g,H,W] -> swap 1,2 -> [N,C,H,W]
    inverse:  [N,C,H,W] -> [N,C/g,g,H,W] -> swap 1,2 -> [N,C,H,W]
    The batch entry of the shapes is -1, or the literal batch of a
    fixed-batch export (as torch traces x.size(0))."""

    def __init__(self, groups, direction, batch_dim):
        super().__init__()
        self.g, self.dir, self.n = groups, direction, batch_dim

    def forward(self, x):
        c, (h, w) = int(x.shape[1]), hw_of(x)
        a, b = (self.g, c // self.g) if self.dir == "textbook" else (c // self.g, self.g)
        x = x.reshape(self.n, a, b, h, w).transpose(1, 2)
        return x.reshape(self.n, c, h, w)


def activation(kind):
    if kind == "LeakyRelu":
        return nn.LeakyReLU(0.1)
    return nn.ReLU()


class Unit(nn.Module):
    """One ShuffleNet v1 unit.  x [N, cin, H, W] -> [N, cout, H', W']."""

    def __init__(self, v, p, batch_dim, act="Relu"):
        super().__init__()
        self.v, self.p = v, p
        keras = v.family == "keras"
        auto = v.pad == "auto_pad"
        if keras and p.g_pw1 > 1:
            self.pw1 = SliceGroupConv(p.cin_nominal, p.mid_nominal, p.g_pw1)
        else:
            self.pw1 = nn.Conv2d(p.cin, p.mid, 1, groups=p.g_pw1, bias=False)
        self.bn1 = nn.BatchNorm2d(p.mid, eps=v.bn_eps)
        if keras:
            self.dw = TfConv3x3(p.mid, p.mid, p.stride, p.mid, auto)
        else:
            self.dw = nn.Conv2d(p.mid, p.mid, 3, p.stride, 1, groups=p.mid, bias=False)
        self.bn2 = nn.BatchNorm2d(p.mid, eps=v.bn_eps)
        if keras and v.groups > 1:
            self.pw2 = SliceGroupConv(p.mid_nominal, p.branch_nominal, v.groups)
        else:
            self.pw2 = nn.Conv2d(p.mid, p.branch, 1, groups=v.groups, bias=False)
        self.bn3 = nn.BatchNorm2d(p.branch, eps=v.bn_eps)
        self.shuffle = None
        if v.groups > 1 or v.shuffle_g1:
            self.shuffle = Shuffle(v.groups, v.shuffle_dir, batch_dim)
        if p.stride == 2 and keras:
            self.pool = TfPool("avg", auto)
        elif p.stride == 2:
            self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=v.pool_include_pad)
        self.act = activation(act)

    def forward(self, x):
        y = torch.relu(self.bn1(self.pw1(x)))
        if self.shuffle is not None and self.v.shuffle_at == "pw1":
            y = self.shuffle(y)
        y = self.bn2(self.dw(y))
        if self.shuffle is not None and self.v.shuffle_at == "dw":
            y = self.shuffle(y)
        y = self.bn3(self.pw2(y))
        if self.p.stride == 1:
            # Keras writes Add(branch, x); PyTorch code writes x + branch.
            return self.act(y + x if self.v.family == "keras" else x + y)
        if self.v.s2_relu == "branch":
            return torch.cat([self.pool(x), self.act(y)], 1)
        return self.act(torch.cat([self.pool(x), y], 1))


class Head(nn.Module):
    """Global pool + classifier.  x [N, C, h, w] -> [N, classes]."""

    def __init__(self, v, c, hw_final):
        super().__init__()
        self.v, self.c, self.hw = v, c, hw_final
        if v.head in ("gemm", "gemm_nobias"):
            self.fc = nn.Linear(c, v.classes, bias=(v.head == "gemm"))
        else:   # Keras Dense layout: weight [C, classes]
            self.weight = nn.Parameter(nn.Linear(c, v.classes).weight.detach().t().contiguous())
            if v.head == "matmul_add":
                self.bias = nn.Parameter(torch.rand(v.classes) * 0.2 - 0.1)

    def pool(self, x):
        g = self.v.gpool
        if g == "reduce_mean":
            return x.mean((2, 3))
        if g == "reduce_mean_keep":
            return torch.flatten(x.mean((2, 3), keepdim=True), 1)
        if g == "global_avg":
            return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        # Megvii: nn.AvgPool2d(final size) then x.view(-1, C)
        return F.avg_pool2d(x, self.hw).reshape(-1, self.c)

    def logits(self, x):
        x = self.pool(x)                        # [N, C]
        if self.v.head in ("gemm", "gemm_nobias"):
            return self.fc(x)
        x = torch.matmul(x, self.weight)        # [N, C] @ [C, K]
        return x + self.bias if self.v.head == "matmul_add" else x

    def scale_(self, factor):
        for p in self.parameters():
            p.data.mul_(factor)

    def forward(self, x):
        x = self.logits(x)                      # [N, K]
        return torch.softmax(x, 1) if self.v.softmax else x


def spatial_after_stem(v):
    """(H, W) of the stage-2 input and of the final feature map."""
    def down(n):        # one 3x3/2 layer: TF same (ceil) or symmetric pad 1
        return -(-n // 2) if v.family == "keras" else (n - 1) // 2 + 1
    h, w = v.height, v.width
    sizes = []
    for _ in range(5):
        h, w = down(h), down(w)
        sizes.append((h, w))
    return sizes[1], sizes[4]


class Net(nn.Module):
    """Input [N,3,H,W] (or [N,H,W,3] for Keras) -> [N, classes]."""

    def __init__(self, v):
        super().__init__()
        self.v = v
        keras, auto = v.family == "keras", v.pad == "auto_pad"
        bd = -1 if (keras or v.dynamic_batch) else v.batch
        if keras:
            stem = [TfConv3x3(3, v.stem, 2, 1, auto)]
        else:
            stem = [nn.Conv2d(3, v.stem, 3, 2, 1, bias=False)]
        if v.stem_bn:
            stem.append(nn.BatchNorm2d(v.stem, eps=v.bn_eps))
        stem.append(nn.ReLU())
        stem.append(TfPool("max", auto) if keras else nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        plans = plan_units(v)
        bad = 9 if v.unsupported else -1    # stage 3, unit 5: a stride-1 unit
        self.units = nn.Sequential(*[Unit(v, p, bd, v.unsupported if i == bad else "Relu")
                                     for i, p in enumerate(plans)])
        self.head = Head(v, plans[-1].cout, spatial_after_stem(v)[1])

    def features(self, x):
        if self.v.family == "keras":
            x = x.permute(0, 3, 1, 2)       # NHWC -> NCHW, as tf2onnx writes
        return self.units(self.stem(x))     # [N, C, h, w]

    def forward(self, x):
        return self.head(self.features(x))


# ----------------------------------------------------------- build and export

def variant_seed(seed, name):
    """Per-variant seed: stable across runs and independent of list order."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % 1000003
    return (seed * 1000003 + h) % (2 ** 31)


def randomize(model, gen):
    """Non-trivial BN statistics (as /work/shared/peers/make_models.py does)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.2 + 0.05)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def make_input(v, gen):
    """Uniform [-2, 2) input in the model's layout: [N,3,H,W] or [N,H,W,3]."""
    x = torch.rand(v.batch, 3, v.height, v.width, generator=gen) * 4 - 2
    return x.permute(0, 2, 3, 1).contiguous() if v.layout == "NHWC" else x


def top1_margin(y):
    """Smallest gap between the best and second-best score over the batch."""
    top2 = torch.topk(y, 2, dim=1).values
    return float((top2[:, 0] - top2[:, 1]).min())


def build(v, seed):
    """The eval-mode module, its input and its PyTorch output (float32)."""
    torch.manual_seed(variant_seed(seed, v.name))
    gen = torch.Generator().manual_seed(variant_seed(seed, v.name) + 1)
    model = Net(v)
    randomize(model, gen)
    model.eval()
    with torch.no_grad():
        # Scale the classifier so the logits have std 2: neither vanishing
        # (a test that cannot fail) nor one-hot probabilities.
        x = make_input(v, gen)
        z = model.head.logits(model.features(x))
        model.head.scale_(2.0 / max(float(z.std()), 1e-12))
        for _ in range(8):      # a clear top-1 so that top-1 equality is fair
            y = model(x)
            if not v.softmax or top1_margin(y) > 1e-3:
                break
            x = make_input(v, gen)
        else:
            raise RuntimeError(f"{v.name}: no input with a clear top-1")
    return model, x, y


def export(v, model, x):
    """torch.onnx.export to a ModelProto (BN folded unless v.bn_nodes)."""
    in_name = "input_1" if v.family == "keras" else "input"
    out_name = "probabilities" if v.softmax else "logits"
    dyn = {in_name: {0: "N"}, out_name: {0: "N"}} if v.dynamic_batch else None
    mode = torch.onnx.TrainingMode.PRESERVE if v.bn_nodes else torch.onnx.TrainingMode.EVAL
    kw = dict(opset_version=v.opset, do_constant_folding=True, training=mode,
              input_names=[in_name], output_names=[out_name], dynamic_axes=dyn)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # torch 1.13's exporter spends half its time in shape inference
            # (seconds on the 1700-node Keras g8 graphs) that changes nothing
            # here: every Reshape shape is already a constant.  Skip it where
            # the private entry point allows.
            torch.onnx.utils._export(model, x, f, onnx_shape_inference=False, **kw)
        except (AttributeError, TypeError):
            f = io.BytesIO()
            torch.onnx.export(model, x, f, **kw)
    return onnx.load_from_string(f.getvalue())


def prune_dead(model):
    """Drop nodes whose outputs nobody reads (torch leaves a few Identity and
    Constant nodes behind after folding) and unused initializers."""
    g = model.graph
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    used = {i for n in g.node for i in n.input}
    for init in [i for i in g.initializer if i.name not in used]:
        g.initializer.remove(init)


def set_auto_pad(model):
    """tf2onnx without shape information writes auto_pad="SAME_UPPER" on every
    "same" conv: do it for the 1x1 convs too (the 3x3 ones already have it)."""
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        names = [a.name for a in n.attribute]
        if "auto_pad" in names:
            continue
        pads = [a for a in n.attribute if a.name == "pads"]
        assert pads and list(pads[0].ints) == [0, 0, 0, 0], n.name
        n.attribute.remove(pads[0])
        n.attribute.append(onnx.helper.make_attribute("auto_pad", "SAME_UPPER"))


def finish(v, model, seed):
    prune_dead(model)
    if v.pad == "auto_pad":
        set_auto_pad(model)
    model.doc_string = (f"gst-shufflenet tests/variants/gen_models.py: {v.name}, "
                        f"random weights, seed {seed}")
    onnx.checker.check_model(model, full_check=True)
    bad = None
    if v.unsupported:
        nodes = [n for n in model.graph.node if n.op_type == v.unsupported]
        assert len(nodes) == 1, v.name
        bad = {"op": v.unsupported, "node": nodes[0].name}
    return bad


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


def verify(v, model, x, y):
    """float64 numpy run of the written graph vs PyTorch; relative error."""
    got = onnx_numpy.run(model, {model.graph.input[0].name: x.numpy()})[0]
    ref = y.numpy().astype(np.float64)
    if got.shape != ref.shape:
        raise RuntimeError(f"{v.name}: numpy output {got.shape} != torch {ref.shape}")
    return float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def generate(v, seed, outdir, check):
    t0 = time.time()
    model, x, y = build(v, seed)
    proto = export(v, model, x)
    bad = finish(v, proto, seed)
    err = verify(v, proto, x, y) if check else None
    if err is not None and err > 1e-5:
        raise RuntimeError(f"{v.name}: written graph disagrees with PyTorch: "
                           f"relative error {err:.3g}")
    onnx.save(proto, os.path.join(outdir, v.name + ".onnx"))
    np.save(os.path.join(outdir, v.name + ".in.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(outdir, v.name + ".out.npy"), y.numpy().astype(np.float32))
    entry = {
        "name": v.name, "onnx": v.name + ".onnx", "input": v.name + ".in.npy",
        "output": v.name + ".out.npy", "layout": v.layout,
        "input_shape": list(x.shape), "batch": v.batch, "channels": 3,
        "height": v.height, "width": v.width, "classes": v.classes,
        "outputs": "probabilities" if v.softmax else "logits",
        "expect_error": bad, "max_abs_ref": float(y.abs().max()),
        "numpy_check_rel_err": err, "ops": op_counts(proto),
        "attributes": dataclasses.asdict(v),
    }
    print(f"{v.name}: {v.family} g{v.groups} {v.scale}x {v.layout} "
          f"{list(x.shape)} -> [{v.batch}, {v.classes}] {entry['outputs']}, "
          f"{len(proto.graph.node)} nodes, numpy check "
          f"{'skipped' if err is None else f'{err:.1e}'}, {time.time() - t0:.1f} s",
          flush=True)
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--only", default="", help="comma-separated variant names")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the numpy re-evaluation of every written graph")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args()
    todo = VARIANTS
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {v.name for v in VARIANTS}
        if unknown:
            ap.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
        todo = [v for v in VARIANTS if v.name in names]
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(1)
    print(f"gen_models: seed {args.seed} (replay with --seed {args.seed}), "
          f"{len(todo)} variants -> {args.outdir}", flush=True)
    work = [(v, args.seed, args.outdir, not args.no_verify) for v in todo]
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            entries = pool.starmap(generate, work, chunksize=1)
    else:
        entries = [generate(*w) for w in work]
    manifest = {"seed": args.seed, "torch": torch.__version__, "onnx": onnx.__version__,
                "variants": entries}
    tmp = os.path.join(args.outdir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(args.outdir, "manifest.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
