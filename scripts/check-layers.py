#!/usr/bin/env python3
"""Checks the house's shape from the code's own imports (run by .ci/run).

host/src is built in layers, from the ground up (docs/architecture.md):

    0  configdef, redact, durable, logs   shared words, no imports of the crate
    1  runtime                            wasmtime engine, limits, data model
    2  capability                         files, net, sql, logging
    3  plugin                             worlds, instance state, registry
    4  config                             worker and connector configuration
    5  kafka, offsets, cluster            clients, the offset store, and
                                       distributed mode's group and topics
    6  worker                             connectors, tasks, pipeline
    7  rest                               the REST API
    8  cli                                the command line

Every `crate::`, `super::` and `self::` path (in `use` lines and in code)
is resolved to the file that defines what it names, following re-exports,
so a facade's `pub use` is not a dependency of its own. The check fails on

  - an import from a lower layer to a higher one,
  - an import circle between files (any layer, within one too),
  - a file over 600 lines whose `//!` does not say why it is "one piece".

Usage: scripts/check-layers.py [host/src]
"""

import os
import re
import sys

LAYERS = {
    "configdef": 0, "redact": 0, "durable": 0, "logs": 0,
    "runtime": 1,
    "capability": 2,
    "plugin": 3,
    "config": 4,
    "kafka": 5, "offsets": 5, "cluster": 5,
    "worker": 6,
    "rest": 7,
    "cli": 8,
    "lib": 9, "main": 9,
}
MAX_LINES = 600

ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:async\s+)?"
    r"(?:fn|struct|enum|trait|type|const|static|mod|union)\s+([A-Za-z_]\w*)",
    re.M,
)
MACRO_ITEMS = re.compile(r"^\s*pub\s+(?:struct|fn|enum)\s+([A-Za-z_]\w*)", re.M)
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)


def strip_comments(text):
    # Unit tests are not part of the structure: they sit at the end of
    # their file, after `#[cfg(test)]`, and `super::*` there means the file.
    cut = re.search(
        r"^#\[cfg\(test\)\]\s*\n\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text, re.M
    )
    if cut:
        text = text[: cut.start()]
    # Generated bindings: a `bindgen!` maps the generated interfaces onto
    # the host's own types (`with:`), which is how wasmtime's bindings are
    # meant to meet their implementation, not a dependency of the design.
    text = re.sub(r"bindgen!\(\{.*?\}\);", "", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # String literals hold paths in messages and doc examples, not imports.
    # Char literals first ('"' would open a string), then strings, whose
    # escapes include a backslash before a line break.
    text = re.sub(r"'(?:\\.|[^'\\\n])'", "' '", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)


class Module:
    def __init__(self, path, segments):
        self.path = path
        self.segments = segments  # module path from the crate root
        raw = open(path, encoding="utf-8").read()
        self.raw = raw
        self.text = strip_comments(raw)
        self.defined = set(ITEM.findall(self.text)) | set(MACRO_ITEMS.findall(self.text))
        self.reexports = {}  # name -> absolute path (list of segments)
        self.uses = []  # (absolute path, is_pub)


def expand_tree(tree):
    """`a::{b, c::{d, self}}` into [['a','b'], ['a','c','d'], ['a','c']]."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, rest):
        if rest.startswith("{"):
            depth = 0
            for i, ch in enumerate(rest):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        inner = rest[1:i]
                        break
            parts, depth, start = [], 0, 0
            for i, ch in enumerate(inner):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    parts.append(inner[start:i])
                    start = i + 1
            parts.append(inner[start:])
            for part in parts:
                if part:
                    walk(prefix, part)
            return
        head, sep, tail = rest.partition("::")
        if sep and tail:
            walk(prefix + [head], tail)
            return
        name = head
        if name == "self":
            out.append(prefix)
        elif name != "*":
            out.append(prefix + [name])
        else:
            out.append(prefix)

    walk([], tree)
    return out


def absolute(module, segments):
    """A path as written in `module` to segments from the crate root."""
    if not segments:
        return None
    here = list(module.segments)
    first = segments[0]
    if first == "crate" or first == "sluice":
        return segments[1:]
    if first == "self":
        return here + segments[1:]
    if first == "super":
        base = here
        rest = segments
        while rest and rest[0] == "super":
            base = base[:-1]
            rest = rest[1:]
        return base + rest
    return None  # another crate, or a local name


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "host/src"
    modules = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                segments = []
            else:
                segments = rel
            modules[path] = Module(path, segments)
    by_segments = {}
    for m in modules.values():
        if m.segments or m.path.endswith("lib.rs"):
            by_segments[tuple(m.segments)] = m

    def written(m, seg):
        """A path as written in `m`, from the crate root: `crate::`,
        `super::` and `self::` paths, and paths through a child module
        (`files::Files` in capability/mod.rs); None for anything else."""
        if seg and tuple(m.segments + [seg[0]]) in by_segments:
            return m.segments + seg
        return absolute(m, seg)

    for m in modules.values():
        for match in USE.finditer(m.text):
            is_pub = bool(match.group(1)) and "pub(" not in match.group(1)
            for seg in expand_tree(match.group(2)):
                abs_path = written(m, seg)
                if abs_path is None:
                    continue
                if is_pub and abs_path:
                    m.reexports[seg[-1]] = abs_path
                m.uses.append((abs_path, is_pub))
        code = USE.sub("", m.text)
        for match in re.finditer(r"(?<![\w:])([A-Za-z_]\w*)((?:::[A-Za-z_]\w*)+)", code):
            abs_path = written(m, [match.group(1)] + match.group(2).split("::")[1:])
            if abs_path is not None:
                m.uses.append((abs_path, False))

    def resolve(segments, seen=None):
        """The file that defines what `segments` names."""
        seen = seen or set()
        key = tuple(segments)
        if key in seen:
            return None
        seen.add(key)
        i = 0
        module = by_segments.get(())
        while i < len(segments) and tuple(segments[: i + 1]) in by_segments:
            i += 1
            module = by_segments[tuple(segments[:i])]
        if module is None:
            return None
        rest = segments[i:]
        if not rest:
            return module
        name = rest[0]
        if name in module.reexports and name not in module.defined:
            return resolve(module.reexports[name] + rest[1:], seen)
        return module

    edges = {}  # (from, to) -> names
    for m in modules.values():
        code = USE.sub("", m.text)
        for abs_path, is_pub in m.uses:
            # A re-export alone is a facade: its users are resolved past
            # it. A module that also uses what it re-exports depends on it.
            if is_pub and not (abs_path and re.search(rf"\b{re.escape(abs_path[-1])}\b", code)):
                continue
            target = resolve(abs_path)
            if target is None or target is m:
                continue
            edges.setdefault((m.path, target.path), set()).add(abs_path[-1] if abs_path else "")

    def layer(path):
        rel = os.path.relpath(path, root).split(os.sep)[0]
        return rel[:-3] if rel.endswith(".rs") else rel

    problems = []
    for (a, b), names in sorted(edges.items()):
        la, lb = layer(a), layer(b)
        if la != lb and LAYERS.get(lb, 99) > LAYERS.get(la, 99):
            problems.append(
                f"upward import: {a} ({la}, layer {LAYERS.get(la)}) -> {b} ({lb}, layer "
                f"{LAYERS.get(lb)}): {', '.join(sorted(names))}"
            )
        if la != lb and la not in LAYERS:
            problems.append(f"{a}: module {la} has no layer in scripts/check-layers.py")

    # Circles: strongly connected components of the file graph (Tarjan).
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                sccs.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    for component in sccs:
        ties = [
            f"    {a} -> {b}: {', '.join(sorted(n))}"
            for (a, b), n in sorted(edges.items())
            if a in component and b in component
        ]
        problems.append(f"import circle of {len(component)} files:\n" + "\n".join(ties))

    long_files = 0
    for m in modules.values():
        lines = m.raw.count("\n")
        if lines > MAX_LINES:
            doc = "\n".join(l for l in m.raw.splitlines() if l.startswith("//!"))
            if "one piece" not in doc:
                problems.append(
                    f"{m.path} has {lines} lines (over {MAX_LINES}) and its //! does not say "
                    f"why it is one piece"
                )
            long_files += 1

    for p in problems:
        print(p)
    print(
        f"layers: {len(modules)} files, {len(edges)} imports between files, "
        f"{len(sccs)} circles, {long_files} files over {MAX_LINES} lines, "
        f"{len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
