# Sourced by .ci/app and .ci/test: creates (once) and activates the virtual environment.
# The environment lives outside the clone, keyed by a hash of pyproject.toml, so that a new clone or a
# CI run reuses it and only a change of dependencies builds a new one.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
key="$(sha256sum "$repo/pyproject.toml" | cut -c1-12)"
venv="${SEGSTUDIO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/segstudio/venv-$key}"
python="${PYTHON:-python3}"
if [ ! -f "$venv/.complete" ]; then
    echo "segstudio: building the Python environment in $venv (first run only; torch is large, allow a few minutes)" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # PIP_FIND_LINKS is emptied so that a machine-local CPU-only torch wheel is never picked up:
    # it does not pair with PyPI's torchvision.
    PIP_FIND_LINKS="" "$venv/bin/python" -m pip install --quiet "$repo[test]"
    "$venv/bin/python" -m pip uninstall --quiet --yes segstudio
    touch "$venv/.complete"
fi
# Point the environment at this clone (fast: no dependencies are touched).
if [ "$(cat "$venv/.repo" 2>/dev/null)" != "$repo" ] || ! (cd / && "$venv/bin/python" -c "import core" 2>/dev/null); then
    log="$(mktemp)"
    if ! PIP_FIND_LINKS="" "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$repo" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    echo "$repo" > "$venv/.repo"
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"
cd "$repo"
