#!/usr/bin/env bash
# Runs HERE (a machine with PyPI): downloads, into .whl/ (ignored by git), the wheels that the bare GPU
# machine lacks for the campaign (Python 3.12, manylinux x86-64), at the versions uv.lock pins, without
# their dependencies: benchmark/gpu/wheels.txt lists every distribution needed beyond what that machine
# has. Refuses to leave more than WHEELS_LIMIT_MIB (40) in the folder.
#
#   bash benchmark/gpu/wheels.sh [DEST]     # DEST defaults to .whl
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${1:-.whl}
limit_mib=${WHEELS_LIMIT_MIB:-40}
mkdir -p "$dest"
pins=$(python3 - <<'EOF'
import tomllib
from pathlib import Path

locked = {p["name"]: p["version"] for p in tomllib.loads(Path("uv.lock").read_text())["package"]}
for line in Path("benchmark/gpu/wheels.txt").read_text().splitlines():
    name = line.split("#")[0].strip()
    if name:
        if name not in locked:
            raise SystemExit(f"error: benchmark/gpu/wheels.txt: {name} is not in uv.lock")
        print(f"{name}=={locked[name]}")
EOF
)
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
# shellcheck disable=SC2086
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" --platform any -d "$dest" $pins
size_mib=$(du -sm "$dest" | cut -f1)
echo "$(ls "$dest"/*.whl | wc -l) wheels, ${size_mib} MiB in $dest"
if [ "$size_mib" -gt "$limit_mib" ]; then
  echo "error: $dest holds ${size_mib} MiB, over the ${limit_mib} MiB limit" >&2
  exit 1
fi
