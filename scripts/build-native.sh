#!/usr/bin/env bash
# Builds the C addon nixyard packs layers with (native/gzip-member.c → dist/native/gzip-member.node):
# libdeflate linked in statically, so the addon needs nothing at run time and layers keep the
# bytes of the libdeflate it was built with. Needs a C compiler and libdeflate's headers and
# static library (Debian: apt-get install -y gcc libc6-dev libdeflate-dev) and Node's headers,
# which every Node.js installation has (<prefix>/include/node).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node_include=$(node -p "require('node:path').resolve(process.execPath, '..', '..', 'include', 'node')")
for needed in "$node_include/node_api.h:Node.js's headers ($node_include)" "/usr/include/libdeflate.h:libdeflate's header (apt-get install -y libdeflate-dev)"; do
  if [ ! -e "${needed%%:*}" ]; then
    echo "build-native: missing ${needed#*:}" >&2
    exit 1
  fi
done
command -v "${CC:-cc}" >/dev/null || { echo "build-native: no C compiler (apt-get install -y gcc libc6-dev)" >&2; exit 1; }

mkdir -p dist/native
"${CC:-cc}" -O2 -fPIC -shared -Wall -Wextra -Werror -I"$node_include" native/gzip-member.c -Wl,-Bstatic -ldeflate -Wl,-Bdynamic -o dist/native/gzip-member.node
