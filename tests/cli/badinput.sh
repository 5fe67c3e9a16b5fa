#!/usr/bin/env bash
# Broken, hostile and foreign input: every case must give a message on
# stderr and exit status 3 (invalid archive), never a crash or a hang,
# and `extract` must leave nothing behind.
set -euo pipefail
XVA_TIMEOUT=${XVA_TIMEOUT:-60}
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
requires tar zstd gzip od

D=$T/disks
mkdir -p "$D"
mkrandom "$D/r.img" $((MIB + MIB / 2))       # two chunks
mkrandom "$D/t1.img" 8192
mkrandom "$D/t2.img" 3072

ncase=0
# bad NAME FILE [ERE]: verify and extract of FILE both exit 3 with a
# message (matching ERE when given); extract leaves no files.
bad ()
{
  local name=$1 f=$2 re=${3:-} x
  ncase=$((ncase + 1))
  xva_fails 3 verify "$f"
  [ -z "$re" ] || stderr_has "$re"
  x=$T/x.$ncase
  mkdir -p "$x"
  xva_fails 3 extract -C "$x" "$f"
  [ -z "$re" ] || stderr_has "$re"
  no_files "$x"
  rm -rf "$x"
}

# entry_field ARCHIVE NAME FIELD: hoff, doff or size of an entry.
entry_field ()
{
  "$PYTHON" "$TARTOOL" list "$1" |
    awk -v n="$2" -v f="$3" '$4 == n {
      print (f == "hoff" ? $1 : f == "doff" ? $2 : $3); exit }'
}

G=$T/good.xva                      # ova.xml + Ref:1/00000000..01
xvagen -o "$G" --disk "$D/r.img"
xva_ok verify "$G"                 # the base case is fine

note "truncation at every 512-byte boundary of a small archive"
S=$T/small.xva
xvagen -o "$S" --disk "$D/t1.img" --disk "$D/t2.img"
xva_ok verify "$S"
size=$(size_of "$S")
# The disks are complete once the last checksum entry is in: cuts in the
# end blocks are complete archives for a vsn-2 reader.
last_end=$((size - 1024))
cuts=0
for ((c = 0; c < last_end; c += 512)); do
  head -c "$c" "$S" >"$T/cut.xva"
  xva_fails 3 verify "$T/cut.xva"
  mkdir -p "$T/xc"
  xva_fails 3 extract -C "$T/xc" "$T/cut.xva"
  no_files "$T/xc"
  cuts=$((cuts + 1))
done
note "$cuts cuts"

note "truncation of a 2-chunk archive (headers, ova.xml and every 41st block)"
"$PYTHON" "$TARTOOL" list "$G" | awk '{print $1}' >"$T/hoffs"
ova_end=$(( $(entry_field "$G" ova.xml doff) + $(entry_field "$G" ova.xml size) ))
last_end=$(( $(size_of "$G") - 1024 ))
cuts=0
for ((c = 0; c < last_end; c += 512)); do
  take=0
  if [ "$c" -le $((ova_end + 512)) ] || [ $(( (c / 512) % 41 )) -eq 0 ]; then
    take=1
  else
    while read -r h; do
      if [ "$c" -ge $((h - 1024)) ] && [ "$c" -le $((h + 1536)) ]; then
        take=1
        break
      fi
    done <"$T/hoffs"
  fi
  [ "$take" -eq 1 ] || continue
  head -c "$c" "$G" >"$T/cut.xva"
  xva_fails 3 verify "$T/cut.xva"
  if [ $((cuts % 8)) -eq 0 ]; then
    mkdir -p "$T/xc"
    xva_fails 3 extract -C "$T/xc" "$T/cut.xva"
    no_files "$T/xc"
  fi
  cuts=$((cuts + 1))
done
note "$cuts cuts"

note "truncated gzip and zstd streams"
for comp in gzip zstd; do
  xvagen -o "$T/c.xva" --compress "$comp" --disk "$D/r.img"
  xva_ok verify "$T/c.xva"
  csize=$(size_of "$T/c.xva")
  for i in $(seq 0 17); do
    head -c $((csize * i / 20)) "$T/c.xva" >"$T/cut.xva"
    xva_fails 3 verify "$T/cut.xva"
  done
  bad "truncated $comp" "$T/cut.xva"
  # A flipped bit inside the compressed data.
  cp "$T/c.xva" "$T/flip.xva"
  "$PYTHON" "$TARTOOL" flip "$T/flip.xva" $((csize / 2)) 3
  bad "corrupt $comp" "$T/flip.xva"
done

note "a flipped bit in a chunk"
for id in 00000000 00000001; do
  cp "$G" "$T/b.xva"
  "$PYTHON" "$TARTOOL" flip "$T/b.xva" $(( $(entry_field "$G" "Ref:1/$id" doff) + 1000 )) 5
  bad "flipped chunk $id" "$T/b.xva" "Ref:1/$id"
  stderr_has "checksum mismatch"
  xva_fails 3 verify "$T/b.xva"
  stderr_has "Ref:1/$id.*checksum mismatch|checksum mismatch.*Ref:1/$id"
done

note "every bad chunk is reported"
xvagen -o "$T/b2.xva" --disk "$D/r.img" --bad-checksum 0 --bad-checksum 1
xva_fails 3 verify "$T/b2.xva"
stderr_has "Ref:1/00000000"
stderr_has "Ref:1/00000001"

note "a flipped bit in a checksum entry"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" flip "$T/b.xva" "$(entry_field "$G" Ref:1/00000001.xxhash doff)" 0
bad "flipped checksum entry" "$T/b.xva" "Ref:1/00000001"

note "a flipped bit in tar headers"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" flip "$T/b.xva" $(( $(entry_field "$G" Ref:1/00000001 hoff) + 4 )) 1
bad "flipped header name" "$T/b.xva"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" flip "$T/b.xva" $(( $(entry_field "$G" Ref:1/00000000 hoff) + 130 )) 0
bad "flipped header size" "$T/b.xva"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" flip "$T/b.xva" 2 0
bad "flipped ova.xml header" "$T/b.xva"

note "a flipped bit in ova.xml's markup"
cp "$G" "$T/b.xva"
doff=$(entry_field "$G" ova.xml doff)
off=$("$PYTHON" - "$G" "$doff" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
doff = int(sys.argv[2])
# The '<' of a tag in the middle of the document.
i = data.index(b'<name>virtual_size</name>', doff)
print(i)
EOF
)
"$PYTHON" "$TARTOOL" flip "$T/b.xva" "$off" 0        # '<' becomes '='
bad "broken ova.xml" "$T/b.xva"

note "entries out of order"
xvagen -o "$T/b.xva" --disk "$D/r.img" --swap-chunks 0,1
bad "swapped chunks" "$T/b.xva"

note "a checksum entry that names another chunk"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" rename "$T/b.xva" 2 Ref:1/00000005.xxhash
bad "checksum name mismatch" "$T/b.xva"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" rename "$T/b.xva" 2 Ref:1/00000000.md5
bad "unsupported checksum extension" "$T/b.xva"
cp "$G" "$T/b.xva"
"$PYTHON" "$TARTOOL" rename "$T/b.xva" 1 Ref:7/00000000
bad "chunk of an unknown disk" "$T/b.xva"

note "a chunk past the end of the disk"
xvagen -o "$T/b.xva" --disk "$D/r.img" --extra-chunk
bad "extra chunk" "$T/b.xva"
xvagen -o "$T/b.xva" --disk "$D/r.img" --declare-size 0=$MIB
bad "virtual_size smaller than the data" "$T/b.xva"

note "huge declared virtual sizes"
for s in 9223372036854775808 9223372036854775807 18446744073709551621; do
  xvagen -o "$T/b.xva" --disk "$D/r.img" --declare-size "0=$s"
  bad "virtual_size $s" "$T/b.xva"
done

note "legacy Zurich archive"
xvagen -o "$T/b.xva" --legacy --disk "$D/t1.img"
bad "legacy" "$T/b.xva" "legacy|appliance|zurich|geneva|0\.1"

note "export_vsn 0 (no inline checksums)"
xvagen -o "$T/b.xva" --vsn 0 --disk "$D/t1.img"
bad "vsn 0" "$T/b.xva"

note "XML entity expansion"
cat >"$T/bomb.xml" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE value [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<value><struct><member><name>version</name><value>&h;</value></member></struct></value>
EOF
xvagen -o "$T/b.xva" --ova-xml "$T/bomb.xml" --disk "$D/t1.img"
bad "entity bomb" "$T/b.xva"

note "external entities are not read"
echo "MARKER-$$-SECRET" >"$T/secret.txt"
xvagen -o "$T/good-small.xva" --disk "$D/t1.img" --vm-name XXENAMEXX
tar xOf "$T/good-small.xva" ova.xml >"$T/ova.xml"
"$PYTHON" - "$T/ova.xml" "$T/secret.txt" "$T/xxe.xml" <<'EOF'
import sys
xml = open(sys.argv[1]).read()
decl = ('<?xml version="1.0"?>\n<!DOCTYPE value [ <!ENTITY xxe SYSTEM '
        '"file://%s"> ]>\n' % sys.argv[2])
open(sys.argv[3], 'w').write(decl + xml.replace('XXENAMEXX', '&xxe;'))
EOF
xvagen -o "$T/b.xva" --ova-xml "$T/xxe.xml" --disk "$D/t1.img"
run_xva inspect --json "$T/b.xva"
if grep -q "MARKER-$$" "$T/stdout" "$T/stderr"; then
  fail "an external entity was read into the output"
fi
mkdir -p "$T/xxe"
run_xva extract -C "$T/xxe" "$T/b.xva"
if [ -f "$T/xxe/ova.xml" ] && grep -q "MARKER-$$" "$T/xxe"/*; then
  fail "an external entity was expanded into the extracted files"
fi
rm -rf "$T/xxe"

note "foreign files named .xva"
cat >"$T/page.xva" <<'EOF'
<!DOCTYPE html>
<html><head><title>302 Found</title></head>
<body><h1>Found</h1><p>The document has moved <a href="https://example.com/
download/vm.xva">here</a>.</p></body></html>
EOF
bad "HTML page" "$T/page.xva"
head -c 65536 /dev/urandom >"$T/random.xva"
bad "random bytes" "$T/random.xva"
: >"$T/empty.xva"
bad "empty file" "$T/empty.xva"
head -c 4096 /dev/zero >"$T/zeros.xva"
bad "zero blocks only" "$T/zeros.xva"
echo "hello" >"$T/readme.txt"
tar cf "$T/other.xva" -C "$T" readme.txt
bad "a tar without ova.xml" "$T/other.xva"
tar czf "$T/other-gz.xva" -C "$T" readme.txt
bad "a gzip tar without ova.xml" "$T/other-gz.xva"
tar cf "$T/dot.xva" -C "$T" ./readme.txt
"$PYTHON" "$TARTOOL" rename "$T/dot.xva" 0 ./ova.xml
bad "./ova.xml" "$T/dot.xva"

note "zstd bombs (20 GiB of output from a few hundred KiB)"
head -c $((128 * MIB)) /dev/zero | zstd -q -c >"$T/zero.zst"
head -c $((128 * MIB)) /dev/zero | tr '\0' A | zstd -q -c >"$T/a.zst"
bomb ()
{
  local out=$1 frame=$2 i
  for i in $(seq 1 160); do cat "$frame"; done >>"$out"
}
# The archive up to the end of chunk 0's data, before its checksum
# entry: what follows can never make it complete.
xvagen -o "$T/plain.xva" --disk "$D/r.img"
cut=$(entry_field "$T/plain.xva" Ref:1/00000000.xxhash hoff)
head -c "$cut" "$T/plain.xva" | zstd -q -c >"$T/zb1.xva"
bomb "$T/zb1.xva" "$T/zero.zst"
bad "ova.xml, a chunk without its checksum, then 20 GiB of zeros" \
  "$T/zb1.xva"
head -c "$cut" "$T/plain.xva" | zstd -q -c >"$T/zb2.xva"
bomb "$T/zb2.xva" "$T/a.zst"
bad "ova.xml, a chunk without its checksum, then 20 GiB of 'A'" \
  "$T/zb2.xva"
: >"$T/zb3.xva"
bomb "$T/zb3.xva" "$T/a.zst"
bad "20 GiB of 'A'" "$T/zb3.xva"
: >"$T/zb4.xva"
bomb "$T/zb4.xva" "$T/zero.zst"
bad "20 GiB of zeros" "$T/zb4.xva"

note "hostile disk names stay inside the extract directory"
mkdir -p "$T/jail/a/b"
xvagen -o "$T/names.xva" --disk "$D/t1.img" --disk "$D/t2.img" \
  --disk "$D/t2.img" --disk-name ../../../escaped \
  --disk-name /tmp/xva-abs-$$ --disk-name 'a/b'
touch "$T/stamp"
run_xva extract -C "$T/jail/a/b" "$T/names.xva"
found=$(find "$T" -newer "$T/stamp" -type f ! -path "$T/jail/a/b/*" \
        ! -name stdout ! -name stderr)
[ -z "$found" ] || fail "extract wrote outside its directory: $found"
[ ! -e "/tmp/xva-abs-$$" ] && [ ! -e "/tmp/xva-abs-$$.img" ] ||
  fail "extract wrote to an absolute path"
if [ "$rc" -eq 0 ]; then
  [ "$(find "$T/jail/a/b" -name '*.img' | wc -l)" -eq 3 ] ||
    fail "extract succeeded but did not write 3 images"
fi

note "a disk whose data stops short of its virtual_size"
# The data ends in a short chunk in the middle of the disk: not an
# all-zero tail left out by a writer that skips zeros (those end on a
# chunk boundary), but data that does not match the declared size.
xvagen -o "$T/b.xva" --disk "$D/r.img" --declare-size 0=$((3 * MIB))
bad "virtual_size larger than the data" "$T/b.xva"

echo "PASS ($ncase cases)"
