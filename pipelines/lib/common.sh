# shellcheck shell=bash
# Shared helpers for the LayerCard launchers (sourced by pipelines/slurm/submit.sh and
# pipelines/cron/layercard-nightly.sh). Only locates the binary and the versions file; it does not
# run anything. Sourced, not executed.

# The repository root (two levels above this file).
LAYERCARD_REPO="${LAYERCARD_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# layercard_resolve_bin: print the absolute path of the layercard binary, in this order:
# $LAYERCARD_BIN, `layercard` on PATH, $LAYERCARD_REPO/.build/release/layercard, .build/debug/layercard.
# Returns 1 (with a message on stderr) if none is executable.
layercard_resolve_bin() {
  local c
  if [ -n "${LAYERCARD_BIN:-}" ]; then
    c="$(command -v -- "$LAYERCARD_BIN" 2>/dev/null || true)"
    if [ -n "$c" ] && [ -x "$c" ]; then
      case "$c" in /*) ;; *) c="$(cd "$(dirname "$c")" && pwd)/$(basename "$c")" ;; esac
      printf '%s\n' "$c"; return 0
    fi
    echo "layercard: LAYERCARD_BIN=$LAYERCARD_BIN is not an executable file" >&2; return 1
  fi
  c="$(command -v layercard 2>/dev/null || true)"
  if [ -n "$c" ]; then printf '%s\n' "$c"; return 0; fi
  for c in "$LAYERCARD_REPO/.build/release/layercard" "$LAYERCARD_REPO/.build/debug/layercard"; do
    if [ -x "$c" ]; then printf '%s\n' "$c"; return 0; fi
  done
  echo "layercard: no binary found (set LAYERCARD_BIN, put layercard on PATH, or run 'swift build -c release' in $LAYERCARD_REPO)" >&2
  return 1
}

# layercard_resolve_versions: print the absolute path of the versions file if one exists
# ($LAYERCARD_VERSIONS, else $LAYERCARD_REPO/pipelines/versions.toml), else print nothing.
# An explicitly set LAYERCARD_VERSIONS that does not exist is an error (return 1).
layercard_resolve_versions() {
  local f="${LAYERCARD_VERSIONS:-$LAYERCARD_REPO/pipelines/versions.toml}"
  if [ -f "$f" ]; then
    printf '%s\n' "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
  elif [ -n "${LAYERCARD_VERSIONS:-}" ]; then
    echo "layercard: LAYERCARD_VERSIONS=$LAYERCARD_VERSIONS does not exist" >&2; return 1
  fi
}
