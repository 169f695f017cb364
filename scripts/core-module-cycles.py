#!/usr/bin/env python3
"""Usage: python3 scripts/core-module-cycles.py [SRC_DIR] (default core/src); exits 1 on a cycle (CI runs it).

Module graph of a crate's top-level modules from every `crate::X` path in its code (use lines and
inline paths; comments stripped), plus `super::` paths that leave a top-level module. Prints the
edges and any cycle (strongly connected component with more than one module)."""
import os, re, sys
src = sys.argv[1] if len(sys.argv) > 1 else 'core/src'
edges = {}
def top_of(rel):
    parts = rel[:-3].split(os.sep)
    return 'lib' if parts == ['lib'] else parts[0]
for dp, dn, fn in os.walk(src):
    for f in fn:
        if not f.endswith('.rs'): continue
        path = os.path.join(dp, f); rel = os.path.relpath(path, src); me = top_of(rel)
        text = open(path).read()
        text = re.sub(r'//[^\n]*', '', text)
        uses = set(re.findall(r'\bcrate::(\w+)', text))
        # `use crate::{a, b::c}` groups
        for grp in re.findall(r'\bcrate::\{([^}]*)\}', text):
            uses |= set(re.findall(r'(?:^|,)\s*(\w+)', grp))
        # `super::x` from a top-level module file (src/x.rs or src/x/mod.rs) leaves the module
        depth = len(rel.split(os.sep)) - (1 if f in ('mod.rs',) else 0)
        if depth == 1:
            uses |= set(re.findall(r'\bsuper::(\w+)', text)) - {'*'}
        for u in uses:
            if u != me and u not in ('Result', 'Error', 'Frame', 'PixelFormat', 'Rect', 'Encoder', 'Decoder'):
                edges.setdefault(me, set()).add(u)
            elif u in ('Frame', 'PixelFormat', 'Rect'):
                edges.setdefault(me, set()).add('frame')
            elif u in ('Result', 'Error'):
                edges.setdefault(me, set()).add('error')
            elif u in ('Encoder',):
                edges.setdefault(me, set()).add('encoder')
            elif u in ('Decoder',):
                edges.setdefault(me, set()).add('decoder')
for k in sorted(edges):
    edges[k].discard(k)
    if k != 'lib': print(f"{k:10} -> {', '.join(sorted(edges[k]))}")
# Tarjan SCC
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(comp)
nodes = set(edges) | {w for s in edges.values() for w in s}
for v in sorted(nodes - {'lib'}):
    if v not in idx: sc(v)
cyc = [s for s in sccs if len(s) > 1]
print("cycles:", cyc if cyc else "none")
sys.exit(1 if cyc else 0)
