#!/usr/bin/python3
"""models/imagenet-labels.txt: 1000 unique, non-empty names in the standard
ILSVRC-2012 order (spot checks: 0 tench, 285 Egyptian cat, 967 espresso),
and exactly what models/make_labels.py derives from Debian's opencv-doc
list after checking it against torchvision's order."""
import os
import sys

import modeltest

LABELS = os.path.join(modeltest.MODELS_DIR, "imagenet-labels.txt")
SPOT = {0: "tench", 1: "goldfish", 285: "Egyptian cat", 281: "tabby",
        967: "espresso", 999: "toilet tissue"}


def main():
    checks = modeltest.Checks("labels")
    with open(LABELS, encoding="utf-8") as f:
        text = f.read()
    labels = text.split("\n")
    checks.check(text.endswith("\n") and labels[-1] == "",
                 "one name per line, newline-terminated")
    labels = labels[:-1]
    checks.check(len(labels) == 1000, "1000 classes", str(len(labels)))
    checks.check(all(n.strip() == n and n for n in labels),
                 "no empty names, no stray spaces")
    checks.check(len(set(labels)) == len(labels), "names are unique")
    for i, name in SPOT.items():
        checks.check(i < len(labels) and labels[i] == name,
                     f"class {i} is {name}",
                     labels[i] if i < len(labels) else "missing")
    script = os.path.join(modeltest.MODELS_DIR, "make_labels.py")
    rc, out, err = modeltest.run([sys.executable, script, "--check", LABELS])
    checks.check(rc == 0, "make_labels.py --check (opencv-doc list, "
                 "torchvision order) agrees", (out + err).strip())
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
