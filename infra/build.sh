#!/usr/bin/env bash
# Stage each Cloud Function as a self-contained source folder:
#   build/<function>/main.py                  functions/<function>/main.py
#   build/<function>/shared/...               the import closure of main.py in shared/ (only)
#   build/<function>/infra/topology.json      read by shared.app at run time
#   build/<function>/infra/schemas/*.json     read by shared.warehouse.schemas at run time
#   build/<function>/requirements.txt         the repo's runtime requirements
#   build/<function>/.gcloudignore            keeps caches out of the uploaded source archive
# shared/ resolves infra/ relative to its own location (parent of shared/), so the folder
# layout mirrors the repo's. Usage: infra/build.sh [function ...]   (default: every function
# in infra/topology.json). BUILD_DIR overrides the output folder (default: <repo>/build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PYTHON="${PYTHON:-python3}"

die() {
  echo "build.sh: error: $*" >&2
  exit 1
}

command -v "$PYTHON" >/dev/null 2>&1 || die "python not found: $PYTHON (set PYTHON=...)"

# Function names come from the topology (the single wiring definition), never from a list here.
mapfile -t ALL_FUNCTIONS < <(
  "$PYTHON" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["functions"]))' \
    "$ROOT/infra/topology.json"
)
if (($# > 0)); then
  FUNCTIONS=("$@")
else
  FUNCTIONS=("${ALL_FUNCTIONS[@]}")
fi

for fn in "${FUNCTIONS[@]}"; do
  known=0
  for candidate in "${ALL_FUNCTIONS[@]}"; do
    [[ "$candidate" == "$fn" ]] && known=1
  done
  ((known)) || die "unknown function '$fn' (known: ${ALL_FUNCTIONS[*]})"
  [[ -f "$ROOT/functions/$fn/main.py" ]] || die "functions/$fn/main.py is missing"
done

stage() {
  local fn="$1"
  local dest="$BUILD_DIR/$fn"
  rm -rf "$dest"
  mkdir -p "$dest/infra/schemas"

  cp "$ROOT/functions/$fn/main.py" "$dest/main.py"
  cp "$ROOT/requirements.txt" "$dest/requirements.txt"
  cp "$ROOT/infra/topology.json" "$dest/infra/topology.json"
  cp "$ROOT/infra/schemas/"*.json "$dest/infra/schemas/"

  # Exactly the import closure of main.py: the local tools (shared/tools) never ship.
  local rel closure
  closure="$(cd "$ROOT" && "$PYTHON" -m shared.tools.closure "$fn")" ||
    die "import closure of $fn failed (see above)"
  while IFS= read -r rel; do
    [[ -n "$rel" ]] || continue
    mkdir -p "$dest/$(dirname "$rel")"
    cp "$ROOT/$rel" "$dest/$rel"
  done <<<"$closure"

  printf '%s\n' '.gcloudignore' '__pycache__/' '*.pyc' >"$dest/.gcloudignore"
  echo "staged $fn -> ${dest#"$ROOT"/}"
}

mkdir -p "$BUILD_DIR"
for fn in "${FUNCTIONS[@]}"; do
  stage "$fn"
done
