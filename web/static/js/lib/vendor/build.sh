#!/bin/sh
# Rebuild noble-bls12-381.js from the npm registry, pinned by package-lock.json (npm ci checks
# each tarball against its sha512 integrity), and print the output's hashes for manifest.json.
# Usage: sh web/static/js/lib/vendor/build.sh [--check]   (--check: fail if the result differs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$work/"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
node node_modules/esbuild/bin/esbuild entry.js --bundle --format=esm --platform=browser --target=es2020 \
  --legal-comments=inline --charset=utf8 --log-level=warning --outfile=noble-bls12-381.js
if [ "${1:-}" = "--check" ]; then
  cmp noble-bls12-381.js "$here/noble-bls12-381.js" && echo "noble-bls12-381.js: rebuilt byte for byte"
else
  cp noble-bls12-381.js "$here/noble-bls12-381.js"
fi
printf 'sha256 %s\n' "$(sha256sum noble-bls12-381.js | cut -d' ' -f1)"
printf 'sha384-%s\n' "$(openssl dgst -sha384 -binary noble-bls12-381.js | base64 -w0)"
