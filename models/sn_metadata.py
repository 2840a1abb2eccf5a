"""The preprocessing and label metadata of a self-describing ShuffleNet ONNX
model: the ONE place that names the keys, formats their values and writes
them. convert_megvii.py and add_metadata.py write them through this module;
the element (gst/) and `shufflenet-cli info` read them.

The keys live in the ONNX ModelProto's metadata_props (string -> string):

  shufflenet.channel_order      "BGR" or "RGB": order of the 3 input channels
  shufflenet.scale              float: pixel values 0..255 are multiplied by it
  shufflenet.mean               "m0,m1,m2": subtracted after scaling
  shufflenet.std                "s0,s1,s2": divided after mean subtraction
  shufflenet.resize             "crop" | "stretch" | "letterbox"
  shufflenet.resize_short_side  int: for "crop", the short side before the
                                centre crop
  shufflenet.labels             class names joined by "\\n", class order,
                                no trailing newline
  shufflenet.model_name         display name, e.g. "shufflenet_v1_g3_0.5x"
  shufflenet.source             provenance text

mean and std are in the model's channel order: channel c of the model input
is (p * scale - mean[c]) / std[c] for a pixel value p in 0..255.
"""
import math
import os
import tempfile
from dataclasses import dataclass

PREFIX = "shufflenet."
KEY_CHANNEL_ORDER = PREFIX + "channel_order"
KEY_SCALE = PREFIX + "scale"
KEY_MEAN = PREFIX + "mean"
KEY_STD = PREFIX + "std"
KEY_RESIZE = PREFIX + "resize"
KEY_RESIZE_SHORT_SIDE = PREFIX + "resize_short_side"
KEY_LABELS = PREFIX + "labels"
KEY_MODEL_NAME = PREFIX + "model_name"
KEY_SOURCE = PREFIX + "source"

# Write order (the order `shufflenet-cli info` prints them in).
KEYS = (KEY_CHANNEL_ORDER, KEY_SCALE, KEY_MEAN, KEY_STD, KEY_RESIZE,
        KEY_RESIZE_SHORT_SIDE, KEY_LABELS, KEY_MODEL_NAME, KEY_SOURCE)

CHANNEL_ORDERS = ("RGB", "BGR")
RESIZE_MODES = ("crop", "stretch", "letterbox")

# What the element assumes for a key a model lacks (the record; the element
# implements them). Not representable as fixed text:
#   resize_short_side  round(input_size * 256 / 224)
#   labels             none: class ids are shown as numbers
#   model_name         the file's basename without extension
DEFAULTS = {
    KEY_CHANNEL_ORDER: "RGB",
    KEY_SCALE: "0.00392156863",  # 1/255
    KEY_MEAN: "0.485,0.456,0.406",
    KEY_STD: "0.229,0.224,0.225",
    KEY_RESIZE: "crop",
}

MEGVII_SOURCE = "Megvii ShuffleNet-Series (MIT), converted by gst-shufflenet"


class MetadataError(ValueError):
    pass


@dataclass
class Preprocessing:
    """How pixels become the model's input tensor."""
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple = (0.485, 0.456, 0.406)  # 3 floats, model channel order
    std: tuple = (0.229, 0.224, 0.225)   # 3 floats, model channel order
    resize: str = "crop"
    resize_short_side: int = 256         # used by "crop" only

    def validate(self):
        if self.channel_order not in CHANNEL_ORDERS:
            raise MetadataError(
                f"channel order {self.channel_order!r} is not one of "
                f"{', '.join(CHANNEL_ORDERS)}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise MetadataError(
                f"scale {self.scale!r} is not a positive number")
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) != 3 or not all(math.isfinite(v) for v in values):
                raise MetadataError(
                    f"{name} needs 3 finite numbers, got {values!r}")
        if any(v == 0 for v in self.std):
            raise MetadataError(f"std {self.std!r} contains a zero")
        if self.resize not in RESIZE_MODES:
            raise MetadataError(
                f"resize {self.resize!r} is not one of "
                f"{', '.join(RESIZE_MODES)}")
        if int(self.resize_short_side) < 1:
            raise MetadataError(
                f"resize short side {self.resize_short_side!r} is not a "
                "positive integer")


# Megvii's validation transform: BGR, raw 0..255, short side 256 (bilinear),
# centre crop 224.
MEGVII = Preprocessing(channel_order="BGR", scale=1.0,
                       mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                       resize="crop", resize_short_side=256)


def format_float(value):
    """Shortest text that keeps float32 precision: 1 -> "1",
    1/255 -> "0.00392156863"."""
    text = "%.9g" % value
    return "0" if text == "-0" else text


def parse_float(text, what):
    try:
        value = float(text)
    except ValueError:
        raise MetadataError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise MetadataError(f"{what}: {text!r} is not finite")
    return value


def parse_triple(text, what):
    """"a,b,c" -> (a, b, c) as floats."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise MetadataError(
            f"{what}: {text!r} needs 3 comma-separated numbers")
    return tuple(parse_float(p, what) for p in parts)


def read_labels_file(path):
    """One class name per line; trailing empty lines are ignored, an empty
    line between names is an error."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise MetadataError(f"cannot read labels file {path}: {e}") from None
    while lines and lines[-1].strip() == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    for i, line in enumerate(lines):
        if line.strip() == "":
            raise MetadataError(f"labels file {path}: line {i + 1} is empty")
    if not lines:
        raise MetadataError(f"labels file {path} has no labels")
    return lines


def make_props(pre=None, labels=None, model_name=None, source=None):
    """The metadata as a dict key -> text, with only the parts given."""
    props = {}
    if pre is not None:
        pre.validate()
        props[KEY_CHANNEL_ORDER] = pre.channel_order
        props[KEY_SCALE] = format_float(pre.scale)
        props[KEY_MEAN] = ",".join(format_float(v) for v in pre.mean)
        props[KEY_STD] = ",".join(format_float(v) for v in pre.std)
        props[KEY_RESIZE] = pre.resize
        props[KEY_RESIZE_SHORT_SIDE] = str(int(pre.resize_short_side))
    if labels is not None:
        for i, name in enumerate(labels):
            if "\n" in name or name.strip() == "":
                raise MetadataError(
                    f"label {i} ({name!r}) is empty or has a newline")
        props[KEY_LABELS] = "\n".join(labels)
    if model_name is not None:
        if not model_name.strip() or "\n" in model_name:
            raise MetadataError(
                f"model name {model_name!r} is empty or multi-line")
        props[KEY_MODEL_NAME] = model_name
    if source is not None:
        props[KEY_SOURCE] = source
    return props


def preprocessing_from_props(props):
    """The Preprocessing a model's metadata describes; keys it lacks take
    the element's defaults (short side 256, i.e. for a 224 input)."""
    def get(key):
        return props.get(key, DEFAULTS.get(key))
    try:
        short = int(props.get(KEY_RESIZE_SHORT_SIDE, "256"))
    except ValueError:
        raise MetadataError(f"{KEY_RESIZE_SHORT_SIDE}: "
                            f"{props[KEY_RESIZE_SHORT_SIDE]!r} is not an "
                            "integer") from None
    pre = Preprocessing(
        channel_order=get(KEY_CHANNEL_ORDER),
        scale=parse_float(get(KEY_SCALE), KEY_SCALE),
        mean=parse_triple(get(KEY_MEAN), KEY_MEAN),
        std=parse_triple(get(KEY_STD), KEY_STD),
        resize=get(KEY_RESIZE), resize_short_side=short)
    pre.validate()
    return pre


def model_num_classes(model):
    """K from the first graph output's static shape [N, K], or None."""
    outputs = model.graph.output
    if not outputs:
        return None
    dims = outputs[0].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].HasField("dim_value"):
        return None
    return dims[1].dim_value


def apply_props(model, props):
    """Set `props` in the ModelProto's metadata_props: entries with the same
    keys are replaced, all others kept; new keys follow in KEYS order."""
    labels = props.get(KEY_LABELS)
    classes = model_num_classes(model)
    if labels is not None and classes is not None:
        count = len(labels.split("\n"))
        if count != classes:
            raise MetadataError(
                f"{count} labels for a model with {classes} classes")
    kept = [(p.key, p.value) for p in model.metadata_props
            if p.key not in props]
    ordered = sorted(props, key=lambda k: KEYS.index(k) if k in KEYS else 99)
    del model.metadata_props[:]
    for key, value in kept + [(k, props[k]) for k in ordered]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def read_props(model):
    """All metadata_props as a dict (a later duplicate wins)."""
    return {p.key: p.value for p in model.metadata_props}


def save_atomic(model, path):
    """Serialize `model` to `path` through a temporary file in the same
    folder and a rename: readers see the old file or the new one, never a
    part of one, and a failure leaves nothing behind."""
    import onnx
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        onnx.load(tmp)  # re-read what was written
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
