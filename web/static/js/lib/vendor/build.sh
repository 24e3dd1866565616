#!/bin/sh
# Rebuild the vendored bundles from the npm registry, pinned by package-lock.json (npm ci checks
# each tarball against its sha512 integrity), and print each output's hashes for manifest.json.
# Usage: sh web/static/js/lib/vendor/build.sh [--check]   (--check: fail if a result differs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$here/entry-sm2.js" "$work/"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
build() {  # build ENTRY OUTPUT
  node node_modules/esbuild/bin/esbuild "$1" --bundle --format=esm --platform=browser --target=es2020 \
    --legal-comments=inline --charset=utf8 --log-level=warning --outfile="$2"
  if [ "${check:-}" = 1 ]; then
    cmp "$2" "$here/$2" || exit 1
    echo "$2: rebuilt byte for byte"
  else
    cp "$2" "$here/$2"
  fi
  printf '%s sha256 %s\n' "$2" "$(sha256sum "$2" | cut -d' ' -f1)"
  printf '%s sha384-%s\n' "$2" "$(openssl dgst -sha384 -binary "$2" | base64 -w0)"
  printf '%s bytes %s\n' "$2" "$(wc -c < "$2")"
}
check=0
[ "${1:-}" = "--check" ] && check=1
build entry.js noble-bls12-381.js
build entry-sm2.js sm-crypto-sm2.js
