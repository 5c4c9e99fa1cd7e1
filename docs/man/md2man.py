#!/usr/bin/env python3
"""md2man.py - a Markdown page of docs/ as a man(7) page with tbl tables.

    md2man.py NAME SECTION TITLE < docs/x.md > NAME.SECTION

tocsin.yaml(5) is docs/configuration.md, converted at build time, so the
key tables (whose defaults tests/unit/test_config_doc.c checks against the
code's one table) exist once.  It knows only what docs/ pages use: # and ##
headings, paragraphs, `code`, **bold**, tables, indented or fenced code
blocks and - lists.  Links keep their text.
"""
import re
import sys


def inline(s):
    s = s.replace('\\', '\\e')
    s = re.sub(r'\[([^\]]+)\]\([^)]+\)', r'\1', s)
    s = re.sub(r'\*\*([^*]+)\*\*', r'\\fB\1\\fR', s)
    s = re.sub(r'`([^`]+)`', r'\\fB\1\\fR', s)
    s = s.replace('&lt;', '<').replace('&gt;', '>').replace('&amp;', '&')
    s = s.replace('-', '\\-')
    if s.startswith('.') or s.startswith("'"):
        s = '\\&' + s
    return s


def cells(line):
    line = line.strip()
    if line.startswith('|'):
        line = line[1:]
    if line.endswith('|'):
        line = line[:-1]
    out, cur, tick = [], '', False
    for ch in line:
        if ch == '`':
            tick = not tick
        if ch == '|' and not tick:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    out.append(cur.strip())
    return out


def main():
    name, section, title = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = sys.stdin.read().split('\n')
    out = ["'\\\" t",
           '.\\" Generated from docs/ by docs/man/md2man.py; edit the page there.',
           '.TH %s %s "" "tocsin" "%s"' % (name.upper(), section, title),
           '.SH NAME', '%s \\- %s' % (name.replace('-', '\\-'), title),
           '.SH DESCRIPTION']
    i, para = 0, []

    def flush():
        if para:
            out.append('.PP')
            out.append(inline(' '.join(para)))
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith('# '):
            flush()
            i += 1
            continue
        if ln.startswith('## ') or ln.startswith('### '):
            flush()
            out.append(('.SH ' if ln.startswith('## ') else '.SS ') +
                       inline(ln.lstrip('#').strip()).upper()
                       if ln.startswith('## ') else
                       '.SS ' + inline(ln.lstrip('#').strip()))
            i += 1
            continue
        if ln.startswith('```'):
            flush()
            out.append('.PP\n.nf\n.RS 4')
            i += 1
            while i < len(lines) and not lines[i].startswith('```'):
                out.append(lines[i].replace('\\', '\\e').replace('.', '\\&.', 1)
                           if lines[i].startswith('.') else
                           lines[i].replace('\\', '\\e'))
                i += 1
            out.append('.RE\n.fi')
            i += 1
            continue
        if ln.startswith('    ') and not para:
            flush()
            out.append('.PP\n.nf\n.RS 4')
            while i < len(lines) and (lines[i].startswith('    ') or
                                      lines[i] == ''):
                if lines[i] == '' and (i + 1 >= len(lines) or
                                       not lines[i + 1].startswith('    ')):
                    break
                t = lines[i][4:].replace('\\', '\\e')
                out.append('\\&' + t if t.startswith(('.', "'")) else t)
                i += 1
            out.append('.RE\n.fi')
            continue
        if ln.startswith('|'):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith('|'):
                if not re.match(r'^\|[-|: ]+\|$', lines[i].strip()):
                    rows.append(cells(lines[i]))
                i += 1
            n = max(len(r) for r in rows)
            out.append('.TS\nallbox tab(\x01);')
            out.append(' '.join(['lb'] * n))
            out.append(' '.join(['lx' if k == n - 1 else 'l'
                                 for k in range(n)]) + '.')
            for r in rows:
                r = r + [''] * (n - len(r))
                out.append('\x01'.join('T{\n%s\nT}' % inline(c) if c else ''
                                       for c in r))
            out.append('.TE')
            continue
        if re.match(r'^\s*[-*] ', ln):
            flush()
            indent = len(ln) - len(ln.lstrip())
            item = [ln.strip()[2:]]
            i += 1
            while i < len(lines) and lines[i].strip() and \
                    not re.match(r'^\s*[-*] ', lines[i]) and \
                    not lines[i].startswith(('#', '|', '```')):
                item.append(lines[i].strip())
                i += 1
            out.append('.IP \\(bu %d' % (2 + indent // 2 * 2))
            out.append(inline(' '.join(item)))
            continue
        if ln.strip() == '':
            flush()
            i += 1
            continue
        para.append(ln.strip())
        i += 1
    flush()
    out.append('.SH SEE ALSO')
    out.append('.BR tocsind (8),')
    out.append('.BR tocsinctl (1)')
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
