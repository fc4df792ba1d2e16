#!/usr/bin/env bash
# Create (or update) a virtual environment with torchgeo-ackd and its test/doc tools.
# usage: scripts/setup-venv.sh PYTHON VENV_DIR TORCHGEO_SPEC
#   e.g. scripts/setup-venv.sh python3 .venv 'torchgeo==0.8.1'
set -euo pipefail
python=$1 venv=$2 torchgeo_spec=$3
cd "$(dirname "$0")/.."
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch 2.14.1 / torchvision 0.29.1: on Python 3.11 these install from files on
# this machine's disk; other Pythons download them from PyPI.
"${pip[@]}" 'torch==2.14.1' 'torchvision==0.29.1' "$torchgeo_spec"
"${pip[@]}" -e '.[tests,docs]'
