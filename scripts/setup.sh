#!/usr/bin/env bash
# Set up wirelessml from scratch on a fresh machine: system libraries, a virtual
# environment, a pinned torch, then the project with its dev tools.
#
#   bash scripts/setup.sh [VENV_DIR]        (default: .venv)
#
# Environment:
#   TORCH_SPEC   the torch requirement installed before the project (default: torch==2.13.0;
#                on a machine without a GPU, point pip at a CPU build of that version).
#   SKIP_APT=1   do not install system packages.
set -euo pipefail

venv="${1:-.venv}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Sionna RT's Dr.Jit LLVM backend needs LLVM >= 16 on CPU; Debian 12's LLVM 15 aborts
# on the first radio map. libllvm19 is in Debian 12's main archive.
if [ "${SKIP_APT:-0}" != 1 ] && ! ldconfig -p 2>/dev/null | grep -q 'libLLVM.so.19'; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null; then
        echo "setup: installing libllvm19 (Dr.Jit's CPU backend for Sionna RT)"
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm19 >/dev/null
    else
        echo "setup: warning: no apt-get; install LLVM >= 16 yourself for Sionna RT on CPU" >&2
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating virtual environment $venv"
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
# torch first and pinned: an unpinned torch pulled in by a dependency is a multi-GB CUDA build.
echo "setup: installing $torch_spec"
"$py" -m pip install -q "$torch_spec" 2>&1 | grep -v '^WARNING: Location' || true
echo "setup: installing wirelessml and its dev tools"
"$py" -m pip install -q -e "$here[dev]" 2>&1 | grep -v '^WARNING: Location' || true
"$py" -c "import torch, sionna.phy, wirelessml; print(f'setup: ok (torch {torch.__version__}, wirelessml {wirelessml.__version__})')"
