#!/usr/bin/env bash
# Create (or update) a virtual environment with torchgeo-ackd and its test/doc tools.
# usage: scripts/setup-venv.sh PYTHON VENV_DIR TORCHGEO_SPEC [SHARE_FROM_VENV]
#   e.g. scripts/setup-venv.sh python3 .venv 'torchgeo==0.8.1'
# With SHARE_FROM_VENV, the Python-independent NVIDIA wheels that torch needs
# (~3 GiB) are hard-linked from that environment instead of downloaded again.
set -euo pipefail
python=$1 venv=$2 torchgeo_spec=$3 share_from=${4:-}
cd "$(dirname "$0")/.."
site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if [ -n "$share_from" ] && [ -x "$share_from/bin/python" ]; then
  "$venv/bin/python" scripts/link_shared_wheels.py "$(site_packages "$share_from")" "$(site_packages "$venv")"
fi
# --no-cache-dir: a second copy of torch's wheels in pip's cache costs GBs of
# disk and saves nothing, since an existing venv is updated in place.
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir)
# Pinned versions where the project has them for this Python (lane 1): the
# main job's numbers depend on them (augmentation, initialisation, decoding).
constraints="scripts/constraints/py$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])').txt"
if [ -f "$constraints" ]; then
  pip+=(--constraint "$constraints")
fi
# torch 2.14.1 / torchvision 0.29.1: on Python 3.11 these install from files on
# this machine's disk; other Pythons download them from PyPI.
"${pip[@]}" 'torch==2.14.1' 'torchvision==0.29.1' "$torchgeo_spec"
"${pip[@]}" -e '.[tests,docs]'
