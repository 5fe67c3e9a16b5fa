#!/usr/bin/env python3
"""Copies stdin to stdout in pieces, each with its own write(2).

  slicer.py N          pieces of N bytes
  slicer.py random     pieces of 1..65536 bytes (seed from $SLICER_SEED or
                       the time; printed on stderr)
  slicer.py N,M,...    cycles through the sizes

Every 4096 pieces or 32 KiB it pauses for a millisecond so that the reader sees the
pipe run dry often, not only full pipe buffers.  A reader that closes
the pipe early ends the copy quietly.
"""

import os
import random
import sys
import time


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = argv[1]
    if spec == 'random':
        seed = int(os.environ.get('SLICER_SEED', '0')) or int(time.time())
        print('slicer: seed %d' % seed, file=sys.stderr)
        rng = random.Random(seed)

        def sizes():
            while True:
                # Mostly small pieces, sometimes large ones.
                if rng.random() < 0.2:
                    yield rng.randint(1, 65536)
                else:
                    yield rng.randint(1, 1024)
    else:
        try:
            fixed = [int(x) for x in spec.split(',')]
        except ValueError:
            print('slicer: bad size %r' % spec, file=sys.stderr)
            return 2
        if any(n < 1 for n in fixed):
            print('slicer: sizes must be positive', file=sys.stderr)
            return 2

        def sizes():
            while True:
                for n in fixed:
                    yield n

    fin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, 'raw') \
        else sys.stdin.buffer
    out = sys.stdout.fileno()
    buf = b''
    pos = 0
    eof = False
    pieces = 0
    since_pause = 0
    try:
        for n in sizes():
            while len(buf) - pos < n and not eof:
                more = fin.read(1 << 20)
                if not more:
                    eof = True
                else:
                    buf = buf[pos:] + more
                    pos = 0
            if pos >= len(buf):
                break
            view = memoryview(buf)[pos:pos + n]
            pos += len(view)
            since_pause += len(view)
            pieces += 1
            while view:
                w = os.write(out, view)
                view = view[w:]
            if pieces % 4096 == 0 or since_pause >= 32768:
                time.sleep(0.001)
                since_pause = 0
    except BrokenPipeError:
        pass
    try:
        os.close(out)
    except OSError:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
