#!/usr/bin/env python3
"""JSON helpers for the e2e scripts (stdlib only).

  jtool.py result              stdin: a JSON-RPC reply.  Prints its result
                               (a string as is, anything else as JSON);
                               exits 1 with the error on stderr if it failed
  jtool.py error               stdin: a JSON-RPC reply that must have
                               failed; prints its error code (message)
  jtool.py eval EXPR           stdin: JSON (j).  Prints EXPR's value (a
                               string as is, anything else as JSON)
  jtool.py check EXPR          stdin: JSON (j).  Exits 0 if EXPR is true
"""

import json
import sys


def show(v):
    if isinstance(v, str):
        print(v)
    else:
        print(json.dumps(v))


def main():
    mode = sys.argv[1]
    text = sys.stdin.read()
    try:
        j = json.loads(text)
    except ValueError as e:
        sys.stderr.write('not JSON (%s): %r\n' % (e, text[:2000]))
        return 1
    if mode == 'result':
        if 'error' in j and j['error'] is not None:
            sys.stderr.write('JSON-RPC error: %s\n' % json.dumps(j['error']))
            return 1
        show(j['result'])
        return 0
    if mode == 'error':
        err = j.get('error')
        if err is None:
            sys.stderr.write('expected an error, got %s\n' % text[:2000])
            return 1
        show(err.get('message') if isinstance(err, dict) else err[0])
        return 0
    if mode == 'eval':
        show(eval(sys.argv[2], {'j': j}))
        return 0
    if mode == 'check':
        return 0 if eval(sys.argv[2], {'j': j}) else 1
    sys.stderr.write('unknown mode %s\n' % mode)
    return 2


if __name__ == '__main__':
    sys.exit(main())
