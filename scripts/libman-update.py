#!/usr/bin/env python3
"""Rewrite the FUNCTIONS section of man/libpanmail.3 from lib/panmail.h.

Each public function gets the first sentence of the contract comment
above its prototype.  Run after changing panmail.h (developers only;
tests/doc-check.sh fails when the two disagree)."""
import re
import sys
import os

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(top, 'lib', 'panmail.h')).read()
man_path = os.path.join(top, 'man', 'libpanmail.3')
proto = re.compile(r'\n((?:[a-z_]+ )+\*?(pan_[a-z0-9_]+) \([^;]*\);)')
entries = []
for m in proto.finditer(src):
    before = src[:m.start()].rstrip()
    if not before.endswith('*/'):
        sys.exit('no contract comment above ' + m.group(2))
    comment = before[before.rfind('/*') + 2:-2]
    text = ' '.join(l.strip().lstrip('*').strip() for l in comment.split('\n'))
    first = re.split(r'(?<=[.;])\s\s', text.strip())[0]
    entries.append((m.group(2), first.replace('\\', '\\e')))
head = open(man_path).read().split('.Sh FUNCTIONS')[0]
body = ['.Sh FUNCTIONS', '.Bl -tag -width Ds']
for name, first in entries:
    body += ['.It Fn ' + name, first]
body += ['.El', '.Sh SEE ALSO', '.Xr pansend 1 ,', '.Xr panaudit 1 ,',
         '.Xr pankey 8 ,', '.Xr panmail.conf 5 ,', '.Xr gpgme 3']
open(man_path, 'w').write(head + '\n'.join(body) + '\n')
print(len(entries), 'functions')
