#!/bin/bash
# The benchmark in its short form: every measurement runs once on small
# files (no thresholds: timing is not asserted in tests).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$SRCDIR/bench/run.py" "$XVA" --smoke --work "$work" \
  --out "$work/results.json"
python3 - "$work/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
items = {row["item"] for row in r["rows"]}
for want in ("1", "2", "3", "4", "5a", "5b", "6a", "6b", "7"):
    assert want in items, "bench item %s missing" % want
for row in r["rows"]:
    assert row["ratio"] > 0, row
print("bench smoke: %d rows" % len(r["rows"]))
PY
