#!/usr/bin/env bash
# Runs ON the GPU machine, from the repository root: installs the carried wheels (benchmark/gpu/wheels.sh
# fetched them here into .whl/), checks the GPU, and runs the campaign (benchmark/gpu/campaign.py) so that
# everything, installation included, ends within CAMPAIGN_DEADLINE_S seconds of this script's start.
#
#   bash benchmark/gpu/run.sh [OUT]        # OUT defaults to $OUT, else outputs/gpu-campaign
#
# Environment: CAMPAIGN_PROFILE (gpu), CAMPAIGN_DEVICE (cuda; cpu skips the GPU check), CAMPAIGN_DEADLINE_S
# (480), CAMPAIGN_WHEELS (.whl), CAMPAIGN_PERF_ONLY (every model; names for `benchmark perf --only`),
# PYTHON (python3).
set -euo pipefail
started=$(date +%s.%N)
out=${1:-${OUT:-outputs/gpu-campaign}}
profile=${CAMPAIGN_PROFILE:-gpu}
device=${CAMPAIGN_DEVICE:-cuda}
deadline=${CAMPAIGN_DEADLINE_S:-480}
wheels=${CAMPAIGN_WHEELS:-.whl}
python=${PYTHON:-python3}

if compgen -G "$wheels/*.whl" >/dev/null; then
  site=$(mktemp -d /tmp/benchmark-site.XXXXXX)
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ "$device" != cpu ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
# The campaign checks the packages and the device itself before its first job.
exec "$python" -m benchmark.gpu.campaign --out "$out" --profile "$profile" --device "$device" \
  --deadline-s "$deadline" --started "$started" ${CAMPAIGN_PERF_ONLY:+--perf-only $CAMPAIGN_PERF_ONLY}
