#!/usr/bin/python3
"""Models the engine must refuse: `shufflenet-cli info BAD` exits 1 with ONE
line on stderr that says what is wrong (naming the node, op or weight where
there is one), never crashes, and (with --valgrind) leaks nothing and makes
no invalid access. In an AddressSanitizer build the cli itself checks for
leaks (LeakSanitizer) and memory errors, which then break the one-line rule.

Every bad model is derived from a real one (--model, a ShuffleNet the engine
loads) with the onnx Python API: truncated, bit-flipped, zero and huge
dimensions, weights and shapes that disagree between nodes, Reshape to a
wrong element count, NaN and infinite weights, an unsupported op; plus a
directory, an empty file, a missing file and a text file. Small crafted
graphs replay what the loader fuzzer found (tests/fuzz/corpus-loader/): a
graph input without a name, a Slice without ends, a node name with a line
break, reshape targets whose product overflows int64, 64 values before a
GlobalAveragePool (the value table grows under a live pointer), and 40000
nodes (must be answered within seconds).

Usage: test_refused_models.py --cli CLI --model GOOD.onnx [--valgrind SUPP,...]
(Debian's /usr/bin/python3 with python3-onnx and numpy)
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.dont_write_bytecode = True

VALGRIND = ["valgrind", "-q", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", "--error-exitcode=99"]


def node(model, op, index=0):
    """The index-th node of type op."""
    return [n for n in model.graph.node if n.op_type == op][index]


def initializer(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def replace_initializer(model, name, array):
    t = initializer(model, name)
    t.CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))


def input_dim(model, k, value):
    model.graph.input[0].type.tensor_type.shape.dim[k].dim_value = value


def const_shape_of(model, reshape):
    """The int64 array feeding Reshape node `reshape` (a Constant node)."""
    src = reshape.input[1]
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == src:
            return n.attribute[0].t
    return initializer(model, src)


# ------------------------------------------------------------ the bad models
# Each maker edits a copy of the good ModelProto (or returns raw bytes) and
# gives the words the error line must contain (lower case).

def bad_zero_input_dim(m):
    input_dim(m, 2, 0)
    return ["input", "dimension 2"]


def bad_huge_input_dim(m):
    input_dim(m, 3, 1 << 40)
    return ["input", "dimension 3"]


def bad_zero_weight_dim(m):
    conv = node(m, "Conv")
    initializer(m, conv.input[1]).dims[0] = 0
    return [conv.input[1].lower(), "0 elements"]


def bad_huge_weight_dim(m):
    conv = node(m, "Conv")
    initializer(m, conv.input[1]).dims[0] = 1 << 40
    return [conv.input[1].lower(), "huge"]


def bad_conv_channels(m):
    """A pointwise conv whose weight (same element count) expects three
    times the input channels: [cout][cin/g][1][1] -> [cout/3][3*cin/g][1][1]."""
    conv = node(m, "Conv", 1)
    w = numpy_helper.to_array(initializer(m, conv.input[1]))
    co, ci = w.shape[0], w.shape[1]
    replace_initializer(m, conv.input[1], w.reshape(co // 3, ci * 3, 1, 1))
    return [conv.name.lower(), "input channels"]


def bad_reshape_count(m):
    """The channel shuffle's 5-d target one element off in the last axis."""
    r = node(m, "Reshape")
    t = const_shape_of(m, r)
    shape = numpy_helper.to_array(t).copy()
    shape[-1] += 1
    t.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), t.name))
    return [r.name.lower(), "elements"]


def bad_stride_mismatch(m):
    """Depthwise conv of a stride-1 unit made stride 2: its map no longer
    matches what the following nodes (shuffle, residual add) expect."""
    dws = [n for n in m.graph.node if n.op_type == "Conv"
           and any(a.name == "group" and a.i > 8 for a in n.attribute)
           and any(a.name == "strides" and list(a.ints) == [1, 1]
                   for a in n.attribute)]
    for a in dws[0].attribute:
        if a.name == "strides":
            a.ints[:] = [2, 2]
    return ["node '"]


def bad_fc_features(m):
    gemm = node(m, "Gemm")
    w = numpy_helper.to_array(initializer(m, gemm.input[1]))
    replace_initializer(m, gemm.input[1], w.reshape(w.shape[0] * 2, -1))
    return [gemm.name.lower(), "features"]


def bad_nan_weight(m):
    conv = node(m, "Conv", 2)
    w = numpy_helper.to_array(initializer(m, conv.input[1])).copy()
    w.flat[5] = np.nan
    replace_initializer(m, conv.input[1], w)
    return [conv.input[1].lower(), "not finite"]


def bad_inf_weight(m):
    gemm = node(m, "Gemm")
    w = numpy_helper.to_array(initializer(m, gemm.input[1])).copy()
    w.flat[-1] = -np.inf
    replace_initializer(m, gemm.input[1], w)
    return [gemm.input[1].lower(), "not finite"]


def bad_unsupported_op(m):
    relu = node(m, "Relu", 3)
    relu.op_type = "Selu"
    return [relu.name.lower(), "selu", "not supported"]


def bad_foreign_domain(m):
    relu = node(m, "Relu", 1)
    relu.domain = "com.microsoft"
    return [relu.name.lower(), "com.microsoft"]


# ------------------------------------------------------------ crafted graphs
# Tiny models from scratch: input [1,3,8,8] -> nodes -> output.

def crafted(nodes, inits, opset=13):
    g = helper.make_graph(
        nodes, "crafted",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT,
                                       None)],
        inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def w1x1():
    """A 3 -> 3 pointwise conv weight [3][3][1][1]."""
    return numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1),
                                   "w")


def head(x):
    """GlobalAveragePool + Flatten: [1,3,h,w] -> [1,3] class scores."""
    return [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
            helper.make_node("Flatten", ["gap"], ["scores"], name="flatten")]


def i64(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def crafted_cases():
    """(name, ModelProto, words or None when the model must load)."""
    conv = helper.make_node("Conv", ["input", "w"], ["c"], name="conv")
    cases = []
    m = crafted([conv] + head("c"), [w1x1()])
    m.graph.input[0].ClearField("name")
    cases.append(("input-without-name", m, ["input", "name"]))
    m = crafted([conv, helper.make_node("Slice", ["c", "starts", "", "axes"],
                                        ["s"], name="slice")] + head("s"),
                [w1x1(), i64("starts", [0]), i64("axes", [1])])
    cases.append(("slice-without-ends", m, ["'slice'"]))
    m = crafted([conv, helper.make_node("Selu", ["c"], ["e"],
                                        name="evil\nname\x1b[31m")] + head("e"),
                [w1x1()])
    cases.append(("name-with-line-break", m, ["selu"]))
    # (2^62 + 1) * 192 == 192 modulo 2^64
    m = crafted([conv, helper.make_node("Reshape", ["c", "shape"], ["r"],
                                        name="reshape")] + head("r"),
                [w1x1(), i64("shape", [1, 2 ** 62 + 1, 192])])
    cases.append(("reshape-dims-overflow", m, ["'reshape'"]))
    m = crafted([helper.make_node("Shape", ["input"], ["sh"], name="shape"),
                 helper.make_node("Reshape", ["sh", "target"], ["sh2"],
                                  name="const_reshape"),
                 conv] + head("c"),
                [w1x1(), i64("target", [2 ** 62 + 1, 2 ** 2 + 4])])
    cases.append(("const-reshape-dims-overflow", m, ["'const_reshape'"]))
    # input is value 0; 63 convs make 64 values: the pool's new value
    # reallocates the table (first capacity 64)
    chain = [helper.make_node("Conv", ["input" if k == 0 else f"c{k - 1}", "w"],
                              [f"c{k}"], name=f"conv{k}") for k in range(63)]
    cases.append(("value-table-growth", crafted(chain + head("c62"), [w1x1()]),
                  None))
    return cases


def many_nodes(n):
    """n Identity nodes in a chain before a small classifier."""
    ids = [helper.make_node("Identity", ["input" if k == 0 else f"t{k - 1}"],
                            [f"t{k}"], name=f"id{k}") for k in range(n)]
    conv = helper.make_node("Conv", [f"t{n - 1}", "w"], ["c"], name="conv")
    return crafted(ids + [conv] + head("c"), [w1x1()])


MODEL_CASES = [bad_zero_input_dim, bad_huge_input_dim, bad_zero_weight_dim,
               bad_huge_weight_dim, bad_conv_channels, bad_reshape_count,
               bad_stride_mismatch, bad_fc_features, bad_nan_weight,
               bad_inf_weight, bad_unsupported_op, bad_foreign_domain]


def byte_cases(good):
    """(name, bytes, words) for corruptions of the serialized model."""
    n = len(good)
    cases = [("truncated-10", good[:10], []),
             ("truncated-half", good[:n // 2], []),
             ("truncated-last-byte", good[:n - 1], [])]
    flipped = bytearray(good)
    flipped[0] ^= 0x07          # first tag: wire type 0 -> 7 (invalid)
    cases.append(("bitflip-first-tag", bytes(flipped), ["not an onnx model"]))
    cases.append(("text-file", b"this is not a model\n", ["not an onnx model"]))
    return cases


# ------------------------------------------------------------------- running

class Runner:
    def __init__(self, cli, valgrind):
        self.cli, self.valgrind = cli, valgrind
        self.failures = []

    def run(self, path, wrapper=()):
        p = subprocess.run(list(wrapper) + [self.cli, "info", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=600)
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")

    def fail(self, name, why):
        self.failures.append(f"{name}: {why}")
        print(f"FAIL {name}: {why}")

    def expect_refused(self, name, path, words):
        rc, out, err = self.run(path)
        lines = err.splitlines()
        if rc != 1:
            self.fail(name, f"exit status {rc} (want 1); stderr {err!r}")
        elif len(lines) != 1 or not lines[0].strip():
            self.fail(name, f"{len(lines)} lines on stderr: {err!r}")
        elif any(w not in lines[0].lower() for w in words):
            self.fail(name, f"message lacks {words}: {lines[0]!r}")
        else:
            print(f"ok   {name}: {lines[0]}")
        if self.valgrind:
            self.check_valgrind(name, path)

    def expect_loads(self, name, path):
        rc, out, err = self.run(path)
        if rc != 0:
            self.fail(name, f"exit status {rc} (want 0); stderr {err!r}")
        else:
            print(f"ok   {name}: loads")
        if self.valgrind:
            self.check_valgrind(name, path, want_lines=0)

    def expect_fast(self, name, path, seconds):
        """Loaded or refused, but answered within `seconds`."""
        t0 = time.monotonic()
        rc, out, err = self.run(path)
        dt = time.monotonic() - t0
        if rc not in (0, 1) or dt > seconds:
            self.fail(name, f"exit status {rc} after {dt:.1f} s (limit "
                      f"{seconds} s); stderr {err[:300]!r}")
        else:
            print(f"ok   {name}: exit {rc} in {dt:.2f} s")

    def check_valgrind(self, name, path, want_lines=1):
        rc, out, err = self.run(path, VALGRIND + self.valgrind)
        if rc == 99 or len(err.splitlines()) != want_lines:
            self.fail(name, f"valgrind: exit {rc}\n{err}")

    def random_flips(self, good, tmp, count, seed):
        """Single-bit flips anywhere: a flip in a weight may leave a valid
        model; whatever happens must be exit 0, or exit 1 with one line."""
        rng = random.Random(seed)
        refused = 0
        for k in range(count):
            data = bytearray(good)
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
            path = os.path.join(tmp, f"flip{k}.onnx")
            with open(path, "wb") as f:
                f.write(data)
            rc, out, err = self.run(path)
            if rc == 1 and len(err.splitlines()) == 1:
                refused += 1
            elif rc != 0:
                self.fail(f"bitflip byte {at}", f"exit {rc}, stderr {err!r}")
            os.remove(path)
        print(f"ok   {count} random bit flips (seed {seed}): {refused} refused "
              f"with one line, {count - refused} still valid models")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True, help="a model the engine loads")
    ap.add_argument("--valgrind", default="",
                    help="comma-separated suppression files: also run every "
                    "refused case under valgrind memcheck")
    ap.add_argument("--flips", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    supp = [f"--suppressions={s}" for s in args.valgrind.split(",") if s]
    if args.valgrind and subprocess.run(["which", "valgrind"],
                                        stdout=subprocess.DEVNULL).returncode:
        print("valgrind not found: checking messages only")
        supp = []
    r = Runner(args.cli, supp if args.valgrind else None)

    rc, out, err = r.run(args.model)
    if rc != 0:
        sys.exit(f"the good model {args.model} does not load: {err}")
    with open(args.model, "rb") as f:
        good = f.read()

    with tempfile.TemporaryDirectory(prefix="refused-") as tmp:
        for make in MODEL_CASES:
            m = onnx.load_from_string(good)
            words = make(m)
            path = os.path.join(tmp, make.__name__[4:] + ".onnx")
            onnx.save(m, path)
            r.expect_refused(make.__name__[4:], path, words)
        for name, data, words in byte_cases(good):
            path = os.path.join(tmp, name + ".onnx")
            with open(path, "wb") as f:
                f.write(data)
            r.expect_refused(name, path, words)
        for name, m, words in crafted_cases():
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(m, path)
            if words is None:
                r.expect_loads(name, path)
            else:
                r.expect_refused(name, path, words)
        path = os.path.join(tmp, "many-nodes.onnx")
        onnx.save(many_nodes(40000), path)
        r.expect_fast("40000-nodes", path, 10.0)
        empty = os.path.join(tmp, "empty.onnx")
        open(empty, "wb").close()
        r.expect_refused("empty-file", empty, ["empty"])
        r.expect_refused("directory", tmp, ["not a regular file"])
        r.expect_refused("missing-file", os.path.join(tmp, "absent.onnx"),
                         ["cannot open", "no such file"])
        r.random_flips(good, tmp, args.flips, args.seed)

    if r.failures:
        print(f"{len(r.failures)} failures")
        sys.exit(1)
    print("all refused models passed")


if __name__ == "__main__":
    main()
