#!/bin/sh
# tests/layers.sh - the library's modules use each other one way only.
#
# lib/README lists the modules layer by layer ("layer N: NAME..."; a
# module is lib/NAME.c, and lib/NAME-int.h if it has one).  This test
# reads the built convenience library (lib/.libs/libpanmail-core.a, one
# object per module) with nm(1) and the #include lines of lib/*.c, and
# draws an arrow A -> B when
#   - A's object refers to a pan_ or pani_ symbol that B's object defines
#     (a call, or a use of a variable), or
#   - lib/A.c includes lib/B-int.h (or util.h, which belongs to util).
# "Upward" means the arrow's head is in a higher layer than its tail:
# layer(B) > layer(A), with N taken from the "layer N:" line that names
# the module.  Arrows within one layer are allowed, arrows down too.
#
# It fails, naming the modules and symbols, when
#   - an arrow points upward,
#   - arrows form a cycle (within one layer too),
#   - a lib/*.c file is not in the table, or the table names a module
#     that has no lib/NAME.c,
#   - a symbol is defined by two modules, or used and defined by none.
#
# Environment: top_srcdir, top_builddir (set by make check), NM, PYTHON3.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
NM=${NM:-nm}
PYTHON3=${PYTHON3:-python3}

readme=$top_srcdir/lib/README
archive=$top_builddir/lib/.libs/libpanmail-core.a
[ -f "$readme" ] || { echo "layers: no $readme"; exit 1; }
[ -f "$archive" ] || { echo "layers: $archive is not built (run make)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# NM may hold options ("nm -B"): split it on purpose.
# shellcheck disable=SC2086
$NM -A "$archive" > "$tmp/nm"
(cd "$top_srcdir/lib" &&
    { grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' -- *.c || true; }) \
    > "$tmp/includes"
(cd "$top_srcdir/lib" && ls -- *.c) > "$tmp/sources"

"$PYTHON3" - "$readme" "$tmp/nm" "$tmp/includes" "$tmp/sources" <<'EOF'
import re, sys

readme, nm_file, inc_file, src_file = sys.argv[1:5]
errors = []

# The table: module -> layer.
layer = {}
for line in open(readme, encoding='utf-8'):
    m = re.match(r'^layer\s+(\d+):(.*)$', line)
    if not m:
        continue
    for mod in m.group(2).split():
        if mod in layer:
            errors.append('lib/README names %s twice' % mod)
        layer[mod] = int(m.group(1))
if not layer:
    print('layers: no "layer N:" line in %s' % readme)
    sys.exit(1)

sources = [l.strip()[:-2] for l in open(src_file) if l.strip().endswith('.c')]
for mod in sources:
    if mod not in layer:
        errors.append('lib/%s.c is not in the layer table of lib/README' % mod)
for mod in sorted(layer):
    if mod not in sources:
        errors.append('lib/README names %s, but there is no lib/%s.c'
                      % (mod, mod))

# The symbols each object defines and uses.
sym_re = re.compile(r'^(.*):([^:/]+)\.o:\s*(?:[0-9a-fA-F]+)?\s+(\S)\s+(\S+)$')
defined, used = {}, {}
for line in open(nm_file):
    m = sym_re.match(line.rstrip('\n'))
    if not m:
        continue
    member, kind, sym = m.group(2), m.group(3), m.group(4)
    # Automake names an object TARGET-NAME.o when the target has flags
    # of its own; TARGET is canonical (no '-').
    mod = re.sub(r'^[A-Za-z0-9_]+_la-', '', member)
    if not re.match(r'^pani?_', sym):
        continue
    if kind in 'Uw':
        used.setdefault(mod, set()).add(sym)
    elif kind.isupper() or kind in 'uv':
        defined.setdefault(sym, set()).add(mod)
for sym in sorted(defined):
    if len(defined[sym]) > 1:
        errors.append('%s is defined by %s' % (sym, ' and '.join(sorted(defined[sym]))))

# The arrows, with what makes each one.
why = {}
def arrow(a, b, reason):
    if a != b:
        why.setdefault((a, b), []).append(reason)

for mod in sorted(used):
    for sym in sorted(used[mod]):
        if sym not in defined:
            errors.append('%s uses %s, which no module defines' % (mod, sym))
            continue
        for d in sorted(defined[sym]):
            arrow(mod, d, sym)

headers = {}
for line in open(inc_file):
    m = re.match(r'^([^:]+)\.c:\s*#\s*include\s*"([^"]+)"', line)
    if not m:
        continue
    mod, hdr = m.group(1), m.group(2)
    owner = 'util' if hdr == 'util.h' else (
        hdr[:-6] if hdr.endswith('-int.h') else None)
    if owner is None:
        continue                # panmail.h, config.h: everyone's
    if owner not in layer:
        headers.setdefault(hdr, set()).add(mod)
        continue
    arrow(mod, owner, '#include "%s"' % hdr)
for hdr in sorted(headers):
    print('layers: note: lib/%s (included by %s) belongs to no module'
          % (hdr, ', '.join(sorted(headers[hdr]))))

def show(reasons, n=4):
    r = sorted(set(reasons))
    return ', '.join(r[:n]) + (', ...' if len(r) > n else '')

# Upward arrows.
for (a, b), reasons in sorted(why.items()):
    if a in layer and b in layer and layer[b] > layer[a]:
        errors.append('upward: %s (layer %d) uses %s (layer %d): %s'
                      % (a, layer[a], b, layer[b], show(reasons)))

# Cycles: the strongly connected components (Tarjan), then the
# elementary cycles inside each (small graphs: a plain search).
succ = {}
for (a, b) in why:
    succ.setdefault(a, set()).add(b)
    succ.setdefault(b, set())
index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(succ[v]):
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
for v in sorted(succ):
    if v not in index:
        strong(v)

for comp in comps:
    members = set(comp)
    cycles = []
    def walk(start, v, path):
        for w in sorted(succ[v] & members):
            if w == start:
                cycles.append(path + [start])
            elif w > start and w not in path and len(cycles) < 50:
                walk(start, w, path + [w])
    for s in comp:
        walk(s, s, [s])
    errors.append('cycle among %s:' % ' '.join(comp))
    for c in sorted(cycles, key=lambda c: (len(c), c))[:20]:
        errors.append('  cycle: ' + ' -> '.join(c))
    for (a, b), reasons in sorted(why.items()):
        if a in members and b in members:
            errors.append('  %s -> %s: %s' % (a, b, show(reasons)))

if errors:
    for e in errors:
        print('layers: ' + e)
    sys.exit(1)
n_layers = len(set(layer.values()))
print('layers: %d modules in %d layers, %d arrows, none upward, no cycle'
      % (len(layer), n_layers, len(why)))
EOF
