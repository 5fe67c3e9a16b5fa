#!/bin/bash
# `cmake --install` puts the header, the shared library and xva.pc in
# place, and a program builds against them with pkg-config alone.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILDDIR" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/xva/xva.h"
pcdir=$(dirname "$(find "$tmp/prefix" -name xva.pc | head -1)")
libdir=$(dirname "$(find "$tmp/prefix" -name 'libxva.so*' | head -1)")
test -x "$tmp/prefix/bin/xva"
cat > "$tmp/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <xva/xva.h>
int
main (void)
{
  char hex[XVA_CHECKSUM_HEX_MAX + 1];
  xva_checksum_hex (XVA_CHECKSUM_XXHASH, "", 0, hex);
  printf ("%s %s\n", hex, xva_strerror (XVA_ECHECKSUM));
  return strcmp (hex, "EF46DB3751D8E999") != 0;
}
C
# The installed .pc names the install prefix it was configured with;
# point pkg-config at the temporary one.
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$tmp/prefix" \
        --cflags --libs xva)
# A library built with sanitizers needs them in the program too.
san=""
libs=$(ldd "$libdir"/libxva.so* 2>/dev/null || true)
if grep -q libasan <<<"$libs"; then
  san="-fsanitize=address,undefined"
fi
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $san -o "$tmp/prog" "$tmp/prog.c" $flags
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
  LD_LIBRARY_PATH="$libdir" "$tmp/prog"
