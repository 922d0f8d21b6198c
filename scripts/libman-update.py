#!/usr/bin/env python3
"""Rewrite the FUNCTIONS section of man/libpanmail.3 from lib/panmail.h.

Each public function gets its prototype (.Ft/.Fn) and the whole contract
comment above it, which says what it returns.  Run after changing
panmail.h (developers only; tests/doc-check.sh fails when the two
disagree)."""
import re
import sys
import os

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(top, 'lib', 'panmail.h')).read()
man_path = os.path.join(top, 'man', 'libpanmail.3')
proto = re.compile(r'\n[ \t]*((?:[a-z_]+ )+\*?)(pan_[a-z0-9_]+) \(([^;]*)\);')


def params(text):
    """The parameters of a prototype, split at the commas outside
    parentheses, each on one line."""
    out, depth, cur = [], 0, ''
    for c in text:
        if c == ',' and depth == 0:
            out.append(cur)
            cur = ''
            continue
        depth += (c == '(') - (c == ')')
        cur += c
    out.append(cur)
    out = [' '.join(p.split()) for p in out]
    return [] if out == ['void'] else out


def roff(text):
    text = text.replace('\\', '\\e')
    # A line may not start with a dot or an apostrophe.
    return re.sub(r'(?m)^([.\'])', r'\\&\1', text)


def contract(before, name):
    before = before.rstrip()
    if not before.endswith('*/'):
        sys.exit('no contract comment above ' + name)
    comment = before[before.rfind('/*') + 2:-2]
    text = ' '.join(l.strip().lstrip('*').strip() for l in comment.split('\n'))
    return ' '.join(text.split())


entries = []
for m in proto.finditer(src):
    rtype, name = ' '.join(m.group(1).split()), m.group(2)
    rtype = rtype.replace(' *', '*').replace('*', ' *').strip()
    entries.append((rtype, name, params(m.group(3)),
                    contract(src[:m.start()], name)))
head = open(man_path).read().split('.Sh FUNCTIONS')[0]
body = ['.Sh FUNCTIONS', '.Bl -tag -width Ds']
for rtype, name, args, text in entries:
    body += ['.It Xo', '.Ft ' + rtype,
             '.Fn ' + name + ''.join(' "%s"' % a for a in (args or ['void'])),
             '.Xc',
             roff(text)]
body += ['.El', '.Sh SEE ALSO', '.Xr pansend 1 ,', '.Xr panaudit 1 ,',
         '.Xr pankey 8 ,', '.Xr panmail.conf 5 ,', '.Xr gpgme 3']
open(man_path, 'w').write(head + '\n'.join(body) + '\n')
print(len(entries), 'functions')
