#!/usr/bin/python3
"""Build the models the element tests use, from the random-weight variants
that tests/variants/gen_models.py writes (VARIANTS below must be in
VARIANTS_DIR), and write OUTDIR/manifest.txt last.

Usage: make_test_models.py VARIANTS_DIR MODELS_DIR SHUFFLENET_CLI OUTDIR
                           [STAMP]

Random weights give logits dominated by per-class offsets that hardly
depend on the image: every photo gets the same top-1 and a wrong input
goes unnoticed. So the classifier head (last Gemm/MatMul and its bias) is
recalibrated: the engine (SHUFFLENET_CLI run) computes the logits of a few
real photos (skimage), their per-class mean is subtracted through the bias
and the head is scaled so that the logits spread by LOGIT_STD across
photos and classes. Logits stay an affine function of the image features,
now centred on natural images, so the probabilities follow the input.
Written (all NCHW unless said):

  default/shufflenet_v1_g3_0.5x.onnx  megvii_g3_0.5x_224 recalibrated, no
      metadata (the element's defaults apply); the file name of the default
      model, for $SHUFFLENET_MODEL_DIR and the documented launch line.
  tiny.onnx        pt_g8_0.25x_47x65_b3_dyn recalibrated (65x47 input: not
      square, 10 classes, dynamic batch), no metadata; fast.
  tiny_meta.onnx   the same network with every shufflenet.* key set to a
      non-default value (BGR, scale 1/128, mean/std, stretch, labels,
      model name), to check the element reads them.
  softmax_nhwc.onnx  keras_g3_0.5x_96_autopad: NHWC input, ends in Softmax.
  unsupported_leakyrelu.onnx  a Relu replaced by LeakyRelu: refused.
  bad_metadata.onnx  tiny with shufflenet.std "1,0,1": refused.
  bad_labels_metadata.onnx  tiny with 3 labels for 10 classes: refused.
  labels10.txt / labels3.txt  labels files for the labels property.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

LOGIT_STD = 2.5
CALIBRATION_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket",
                      "immunohistochemistry", "hubble_deep_field")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
VARIANTS = ("megvii_g3_0.5x_224", "pt_g8_0.25x_47x65_b3_dyn",
            "keras_g3_0.5x_96_autopad", "unsupported_leakyrelu")
TINY_LABELS = ["zero", "one", "two", "three", "four", "five", "six",
               "seven", "eight", "nine"]


def initializers(model):
    return {t.name: t for t in model.graph.initializer}


def head(model):
    """(weight name, bias names) of the classifier head: the
    last Gemm/MatMul with a constant weight, and the bias of it or of the
    Add that follows."""
    inits = initializers(model)
    nodes = list(model.graph.node)
    found = [i for i, n in enumerate(nodes)
             if n.op_type in ("Gemm", "MatMul") and n.input[1] in inits]
    if not found:
        raise SystemExit("make_test_models: no classifier head found")
    node = nodes[found[-1]]
    biases = []
    if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] in inits:
        biases.append(node.input[2])
    for later in nodes[found[-1] + 1:]:
        if later.op_type == "Add" and node.output[0] in later.input:
            biases += [name for name in later.input if name in inits]
    return node.input[1], biases


def add_bias(model, classes):
    """Gives a bias-free head (Megvii's MatMul) a zero bias: an Add after
    it. Returns the bias initializer's name."""
    graph = model.graph
    weight = head(model)[0]
    index = next(i for i, n in enumerate(graph.node)
                 if n.op_type in ("Gemm", "MatMul") and n.input[1] == weight)
    old = graph.node[index].output[0]
    new = old + "_before_bias"
    graph.node[index].output[0] = new
    for node in graph.node:
        node.input[:] = [new if x == old and node is not graph.node[index]
                         else x for x in node.input]
    bias = "calibration_bias"
    graph.initializer.append(numpy_helper.from_array(
        np.zeros(classes, np.float32), bias))
    graph.node.insert(index + 1, onnx.helper.make_node(
        "Add", [new, bias], [old], name="calibration_add"))
    return bias


def photos(height, width):
    """The calibration photos as a [N, 3, H, W] float32 tensor, stretched,
    with the element's default normalization (RGB, 1/255, ImageNet)."""
    import skimage.data
    import skimage.transform
    batch = []
    for name in CALIBRATION_PHOTOS:
        img = getattr(skimage.data, name)()[..., :3].astype(np.float32) / 255
        img = skimage.transform.resize(img, (height, width), order=1,
                                       anti_aliasing=True)
        batch.append(((img - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(batch), dtype=np.float32)


def recalibrate(model, cli, height, width):
    """Centres and scales the head on real photos (see the docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("m.onnx", "in.npy", "out.npy")]
        onnx.save(model, paths[0])
        np.save(paths[1], photos(height, width))
        subprocess.run([cli, "run", paths[0], "--input", paths[1],
                        "--output", paths[2], "--threads", "1"], check=True,
                       stdout=subprocess.DEVNULL)
        logits = np.load(paths[2]).astype(np.float64)      # [N, K]
    mu = logits.mean(axis=0)                               # [K]
    scale = LOGIT_STD / max((logits - mu).std(), 1e-6)
    weight, biases = head(model)
    inits = initializers(model)
    w = numpy_helper.to_array(inits[weight]).astype(np.float32) * scale
    inits[weight].CopyFrom(numpy_helper.from_array(w, weight))
    if not biases:
        biases = [add_bias(model, logits.shape[1])]
        inits = initializers(model)
    for i, name in enumerate(biases):
        b = numpy_helper.to_array(inits[name]).astype(np.float64)
        b = (b - (mu if i == 0 else 0.0)) * scale
        inits[name].CopyFrom(numpy_helper.from_array(b.astype(np.float32),
                                                     name))


def set_props(model, props):
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def main(work, models_dir, cli, out, stamp=None):
    os.makedirs(os.path.join(out, "default"), exist_ok=True)
    sys.path.insert(0, models_dir)
    import sn_metadata as md

    def load(name):
        return onnx.load(os.path.join(work, name + ".onnx"))

    m = load("megvii_g3_0.5x_224")
    recalibrate(m, cli, 224, 224)
    onnx.save(m, os.path.join(out, "default", "shufflenet_v1_g3_0.5x.onnx"))

    tiny = load("pt_g8_0.25x_47x65_b3_dyn")
    recalibrate(tiny, cli, 47, 65)
    onnx.save(tiny, os.path.join(out, "tiny.onnx"))

    pre = md.Preprocessing(channel_order="BGR", scale=1.0 / 128.0,
                           mean=(0.5, 0.25, 0.75), std=(0.5, 0.25, 2.0),
                           resize="stretch", resize_short_side=56)
    meta = onnx.ModelProto()
    meta.CopyFrom(tiny)
    md.apply_props(meta, md.make_props(pre, TINY_LABELS, "tiny-meta-test",
                                       "tests/gst/make_test_models.py"))
    onnx.save(meta, os.path.join(out, "tiny_meta.onnx"))

    bad = onnx.ModelProto()
    bad.CopyFrom(tiny)
    set_props(bad, {md.KEY_STD: "1,0,1"})
    onnx.save(bad, os.path.join(out, "bad_metadata.onnx"))
    bad = onnx.ModelProto()
    bad.CopyFrom(tiny)
    set_props(bad, {md.KEY_LABELS: "a\nb\nc"})
    onnx.save(bad, os.path.join(out, "bad_labels_metadata.onnx"))

    shutil.copyfile(os.path.join(work, "keras_g3_0.5x_96_autopad.onnx"),
                    os.path.join(out, "softmax_nhwc.onnx"))
    shutil.copyfile(os.path.join(work, "unsupported_leakyrelu.onnx"),
                    os.path.join(out, "unsupported_leakyrelu.onnx"))
    with open(os.path.join(out, "labels10.txt"), "w") as f:
        f.write("\r\n".join("label %d" % i for i in range(10)) + "\n\n")
    with open(os.path.join(out, "labels3.txt"), "w") as f:
        f.write("a\nb\nc\n")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("gst test models from %s, heads recalibrated to logit "
                "std %g\n" % (", ".join(VARIANTS), LOGIT_STD))
    if stamp:
        with open(stamp, "w") as f:
            f.write(out + "\n")


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
