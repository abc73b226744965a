#!/usr/bin/env python3
"""The module graph of each crate of the workspace, drawn from the code, and
its import circles.

    python3 scripts/module-graph.py            # circles, if any (exit 1 when one is found)
    python3 scripts/module-graph.py --edges    # every file -> file and folder -> folder edge
    python3 scripts/module-graph.py --dot      # Graphviz DOT of the folder graph of each crate

An edge A -> B means a file of module A names an item defined in module B
(`use crate::b::X`, `crate::b::f()`, `super::X`, `child::X`). Declaring a
module (`mod b;`) and re-exporting from it (`pub use b::X`) are not edges:
a name reached through a re-export counts against the module that defines
it. Test modules (from `#[cfg(test)]` to the end of a file) are left out.

Two graphs are checked, per crate: files (each module) and folders (the
crate's top-level modules). Either one having a circle is a failure.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = [("arc-agent", "src"), ("arc-actors", "actors/src"), ("arc-models", "models/src"),
          ("arc-rooms", "rooms/src"), ("arc-testkit", "testkit/src")]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", re.M)
USE_STMT = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S)
PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::" + IDENT + r")+)")


def strip(src):
    """Source without comments, string literals and the test module."""
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r'r#*"(?:.|\n)*?"#*', '""', src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', '""', src)
    cut = src.find("#[cfg(test)]")
    return src if cut < 0 else src[:cut]


def expand_use(tree):
    """`a::{b, c::{d, e as f}}` -> ['a::b', 'a::c::d', 'a::c::e'] (aliases dropped)."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def rec(prefix, s):
        i = s.find("{")
        if i < 0:
            return [prefix + s]
        out = []
        for part in split_top(s[i + 1:s.rfind("}")]):
            out += rec(prefix + s[:i], part)
        return out

    return [p.rstrip(":") for p in rec("", tree)]


class Crate:
    def __init__(self, name, src_dir):
        self.name = name
        self.src_dir = os.path.join(ROOT, src_dir)
        self.files = {}  # module path (tuple) -> file
        self.text = {}
        root = "lib.rs" if os.path.exists(os.path.join(self.src_dir, "lib.rs")) else "main.rs"
        self.walk((), os.path.join(self.src_dir, root))

    def walk(self, mod, path):
        self.files[mod] = path
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        self.text[mod] = strip(raw)
        base = os.path.dirname(path)
        if not (path.endswith("mod.rs") or path.endswith("lib.rs") or path.endswith("main.rs")):
            base = os.path.join(base, os.path.splitext(os.path.basename(path))[0])
        for child in MOD_DECL.findall(self.text[mod]):
            for cand in (os.path.join(base, child + ".rs"), os.path.join(base, child, "mod.rs")):
                if os.path.exists(cand):
                    self.walk(mod + (child,), cand)
                    break

    def children(self, mod):
        return {m[-1] for m in self.files if len(m) == len(mod) + 1 and m[:len(mod)] == mod}

    def reexports(self, mod):
        """name -> absolute path it re-exports, for `pub use` in module `mod`."""
        out = {}
        for m in USE_STMT.finditer(self.text[mod]):
            if not m.group(1):
                continue
            for p in expand_use(m.group(2)):
                segs = self.absolute(mod, p.split("::"))
                if segs:
                    out[segs[-1]] = segs
        return out

    def absolute(self, mod, segs):
        """A path as seen from `mod`, made absolute; None when it leaves the crate."""
        segs = [s for s in segs if s]
        if not segs:
            return None
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] in ("self", "super"):
            cur = list(mod)
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    if not cur:
                        return None
                    cur.pop()
                segs = segs[1:]
            return cur + segs
        if segs[0] in self.children(mod):
            return list(mod) + segs
        return None

    def resolve(self, segs, depth=0):
        """The module that defines what the absolute path `segs` names."""
        best = ()
        for i in range(len(segs) + 1):
            if tuple(segs[:i]) in self.files:
                best = tuple(segs[:i])
        rest = segs[len(best):]
        if rest and depth < 8:
            target = self.reexports(best).get(rest[0])
            if target and tuple(target) != tuple(best) + (rest[0],):
                return self.resolve(list(target) + rest[1:], depth + 1)
        return best

    def edges(self):
        out = set()
        for mod, text in self.text.items():
            refs = []
            for m in USE_STMT.finditer(text):
                if m.group(1):
                    continue  # a re-export is not a use
                refs += [p.split("::") for p in expand_use(m.group(2))]
            body = USE_STMT.sub("", text)
            refs += [p.split("::") for p in PATH.findall(body)]
            kids = self.children(mod)
            if kids:
                pat = re.compile(r"(?<![A-Za-z0-9_:])(" + "|".join(map(re.escape, kids)) + r")((?:::" + IDENT + r")+)")
                refs += [(a + b).split("::") for a, b in pat.findall(body)]
            for r in refs:
                segs = self.absolute(mod, r)
                if segs is None:
                    continue
                target = self.resolve(segs)
                if target != mod and target != ():
                    out.add((mod, target))
                elif target == () and mod != ():
                    out.add((mod, ()))
        return out


def cycles(nodes, edges):
    graph = {n: set() for n in nodes}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            strong(v)
    return comps


def name(mod):
    return "crate::" + "::".join(mod) if mod else "crate"


def main():
    show_edges = "--edges" in sys.argv
    dot = "--dot" in sys.argv
    failed = False
    for crate_name, src in CRATES:
        if not os.path.isdir(os.path.join(ROOT, src)):
            continue
        c = Crate(crate_name, src)
        file_edges = c.edges()
        folder_edges = {(a[:1], b[:1]) for a, b in file_edges if a[:1] != b[:1] and a and b}
        if dot:
            print(f'digraph "{crate_name}" {{')
            for a, b in sorted(folder_edges):
                print(f'  "{name(a)}" -> "{name(b)}";')
            print("}")
            continue
        if show_edges:
            print(f"# {crate_name}: files")
            for a, b in sorted(file_edges):
                print(f"  {name(a)} -> {name(b)}")
            print(f"# {crate_name}: folders")
            for a, b in sorted(folder_edges):
                print(f"  {name(a)} -> {name(b)}")
        found = [("files", comp) for comp in cycles(c.files, file_edges)]
        found += [("folders", comp) for comp in cycles({m[:1] for m in c.files}, folder_edges)]
        for level, comp in found:
            failed = True
            print(f"{crate_name}: import circle between {level}: " + ", ".join(name(m) for m in comp))
        if not found and not show_edges:
            print(f"{crate_name}: {len(c.files)} modules, {len(file_edges)} edges, no import circle")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
