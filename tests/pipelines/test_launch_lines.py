#!/usr/bin/python3
"""The example launch lines that gst-inspect-1.0 shows for
shufflenetoverlay and shufflenetjson are the ones pipelines/README.md
lists, and they run as written (in a scratch folder): the overlay's writes
an AVI that decodes to 30 frames, the JSON writer's 30 result lines.

Usage: test_launch_lines.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import os
import re
import shlex

import pipetest as pt

CHECKS = {"shufflenetoverlay": ("annotated.avi", "frames"),
          "shufflenetjson": ("results.jsonl", "lines")}


def main():
    tmp = pt.setup(ARGS)
    with open(os.path.join(pt.PIPELINES, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for element, (output, kind) in CHECKS.items():
        p = pt.run(["gst-inspect-1.0", element])
        m = re.search(r"Example: (gst-launch-1\.0 [^\n]*)", p.stdout)
        pt.check(m is not None, f"{element}: no example line:\n{p.stdout}")
        line = m.group(1).strip()
        pt.check(line in readme, f"{element}: example not in "
                 f"pipelines/README.md:\n{line}")
        pt.run(shlex.split(line), cwd=tmp)
        path = os.path.join(tmp, output)
        if kind == "frames":
            n = len(pt.decode_frames(path))
        else:
            n = len(pt.read_jsonl(path))
            for i, r in enumerate(pt.read_jsonl(path)):
                pt.check_result(r, 3, f"{output}:{i + 1}")
        pt.check(n == 30, f"{element}: {output} has {n} {kind}")
        print(f"ok: {element}'s example writes {output} ({n} {kind})")


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
