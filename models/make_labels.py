#!/usr/bin/python3
"""Write models/imagenet-labels.txt: the 1000 ImageNet-1k (ILSVRC-2012) class
names in the standard class order, one short display name per line.

Source: Debian's opencv-doc list (one line per class, WordNet synonyms joined
by ", "). Each label is the first synonym. Two first synonyms occur twice
(crane: the bird and the machine; maillot: the swimsuit and the tank suit);
those get distinct names so that every label is unique. The order is checked
against python3-torchvision's _IMAGENET_CATEGORIES: class i's torchvision
name must be one of the synonyms of line i.

Usage: make_labels.py [--check] [OUTPUT]
  --check  compare OUTPUT (default: imagenet-labels.txt next to this script)
           with what would be written; exit 1 when they differ.
"""
import argparse
import os
import sys

OPENCV_LIST = ("/usr/share/doc/opencv-doc/examples/data/dnn/"
               "classification_classes_ILSVRC2012.txt")
NUM_CLASSES = 1000
# Classes whose first synonym is shared with another class (WordNet ids in
# the comments), named so that the labels stay unique.
DISAMBIGUATED = {
    134: "crane (bird)",     # n02012849 crane (the bird)
    517: "crane (machine)",  # n03126707 crane (lifting machine)
    639: "tank suit",        # n03710721 maillot, tank suit
}
# Spot checks from the ILSVRC-2012 order.
KNOWN = {0: "tench", 285: "Egyptian cat", 967: "espresso"}


def read_synonyms(path):
    """Return [NUM_CLASSES] lists of synonyms, in class order."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if len(lines) != NUM_CLASSES:
        raise ValueError(f"{path}: {len(lines)} classes, expected "
                         f"{NUM_CLASSES}")
    return [[s.strip() for s in line.split(",")] for line in lines]


def check_torchvision_order(synonyms):
    """Every torchvision name must name the same class index."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES as tv
    if len(tv) != NUM_CLASSES:
        raise ValueError(f"torchvision lists {len(tv)} classes")
    for i, name in enumerate(tv):
        # torchvision disambiguates the duplicates its own way
        # ("crane bird", "maillot tank suit"): accept its name when it
        # starts with the class's first synonym.
        ok = name in synonyms[i] or (i in DISAMBIGUATED and
                                     name.startswith(synonyms[i][0]))
        if not ok:
            raise ValueError(f"class {i}: torchvision says {name!r}, "
                             f"opencv-doc says {synonyms[i]!r}")


def make_labels(synonyms):
    labels = [DISAMBIGUATED.get(i, syn[0]) for i, syn in enumerate(synonyms)]
    if len(set(labels)) != NUM_CLASSES:
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"duplicate labels: {dup}")
    for i, name in KNOWN.items():
        if labels[i] != name:
            raise ValueError(f"class {i} is {labels[i]!r}, expected {name!r}")
    return labels


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("output", nargs="?",
                    default=os.path.join(here, "imagenet-labels.txt"))
    args = ap.parse_args()
    try:
        synonyms = read_synonyms(OPENCV_LIST)
        check_torchvision_order(synonyms)
        text = "\n".join(make_labels(synonyms)) + "\n"
    except (OSError, ValueError, ImportError) as e:
        print(f"make_labels: error: {e}", file=sys.stderr)
        return 1
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            if f.read() != text:
                print(f"make_labels: {args.output} differs from the "
                      "regenerated list", file=sys.stderr)
                return 1
        print(f"make_labels: {args.output} matches ({NUM_CLASSES} classes)")
        return 0
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    print(f"make_labels: wrote {args.output} ({NUM_CLASSES} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
