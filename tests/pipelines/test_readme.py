#!/usr/bin/python3
"""README.md documents the elements as they are: every property of
shufflenet, shufflenetjson, shufflenetoverlay and shufflenettrack that
the element itself
installs (and the inherited ones the README names) appears in its
element's section, with the default a new element has and, where the
README says so, read-only. A property added, renamed or given a new
default without the README fails here.

The tables (`| `a`, `b` | 1, 2 | meaning |`) give names and defaults
cell by cell; the overlay's and tracker's prose "`name` (default)". A default
written as "unset" is a NULL or empty string, "read-only" a property that
cannot be set, `""` an empty string; enums are compared by nick, colours
as hexadecimal. Needs only the built plugin (no model).

Usage: test_readme.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import os
import re

import gi

import pipetest as pt

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

# Each element and the heading its section starts with.
SECTIONS = {"shufflenet": "## The `shufflenet` element",
            "shufflenetjson": "## `shufflenetjson`",
            "shufflenetoverlay": "## `shufflenetoverlay`",
            "shufflenettrack": "## `shufflenettrack`"}


def section(readme, heading):
    """The text from heading to the next second-level heading."""
    start = readme.index(heading + "\n")
    end = readme.find("\n## ", start + len(heading))
    return readme[start:end if end >= 0 else len(readme)]


def table_entries(text):
    """(name, default) pairs of the tables headed "| property | default |"
    in text; a row's one default is each of its names'; None where
    the counts differ otherwise."""
    out, in_table = [], False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            in_table = False
        elif cells[:2] == ["property", "default"]:
            in_table = True
        if not in_table or len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z0-9-]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(",")]
        if len(defaults) == 1 or len(names) == 1:
            defaults = [cells[1]] * len(names)  # one default for the row
        elif len(defaults) != len(names):
            defaults = [None] * len(names)
        out += list(zip(names, defaults))
    return out


def prose_entries(text):
    """(name, default) pairs of "Properties: `a` (1), `b` (x: why)"."""
    m = re.search(r"Properties: (.*?)\.\n\n", text + "\n\n", re.S)
    pt.check(m is not None, "no 'Properties:' sentence")
    return [(n, d.split(":")[0].strip()) for n, d in
            re.findall(r"`([a-z0-9-]+)`\s+\(([^)]*)\)", m.group(1))]


def same_default(written, pspec, value):
    """Whether the README's default text matches the element's value."""
    if written == "read-only":
        return not pspec.flags & GObject.ParamFlags.WRITABLE
    if written == "unset":
        return value in (None, "")
    if isinstance(value, bool):
        return written == str(value).lower()
    if hasattr(value, "value_nick"):
        return written == value.value_nick
    if isinstance(value, str):
        return written.strip('"') == value
    if isinstance(value, (int, float)):
        try:
            return float(int(written, 0) if written.startswith("0x")
                         else written) == float(value)
        except ValueError:
            return False
    return False


def check_element(name, text):
    element = Gst.ElementFactory.make(name)
    pt.check(element is not None, f"no element {name}")
    own = {p.name: p for p in element.list_properties()
           if p.owner_type == type(element).__gtype__}
    every = {p.name: p for p in element.list_properties()}
    entries = (prose_entries(text)
               if name in ("shufflenetoverlay", "shufflenettrack")
               else table_entries(text))
    documented = {n for n, _ in entries}
    missing = sorted(set(own) - documented)
    pt.check(not missing, f"{name}: README.md does not document {missing}")
    checked = 0
    for prop, written in entries:
        pt.check(prop in every, f"{name}: README.md documents '{prop}', "
                 "which the element does not have")
        if written is None:
            continue
        value = element.get_property(prop)
        pt.check(same_default(written, every[prop], value),
                 f"{name}: README.md gives '{prop}' the default "
                 f"{written!r}; a new element has {value!r}")
        checked += 1
    pt.check(checked >= len(own), f"{name}: only {checked} of "
             f"{len(own)} defaults could be read from README.md")
    print(f"ok: {name}: {len(own)} properties documented, {checked} "
          "defaults as in README.md")


def main():
    os.environ["GST_PLUGIN_PATH"] = os.path.join(
        os.path.abspath(ARGS.build), "gst")
    os.environ.pop("GST_PLUGIN_PATH_1_0", None)
    Gst.init(None)
    with open(os.path.join(pt.REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for name, heading in SECTIONS.items():
        check_element(name, section(readme, heading))


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
