#!/usr/bin/env bash
# The fast tests (pytest -m unit) on every Python that pyproject's requires-python names, other than the one
# that .venv runs (`make test-unit` covers that one). Used by `make test-pythons`, and so by `make test`.
#
#   tools/python_matrix.sh [VERSION ...] [-- PYTEST_ARGS ...]
#
# With no VERSION, the versions are pyproject's requires-python minus .venv's own. Each gets its own virtualenv
# (`pip install -e '.[local,publisher,dashboard,dev]'`, no dbt) in a per-user cache outside the clone:
#   ${PYTHON_MATRIX_CACHE:-${XDG_CACHE_HOME:-~/.cache}/olist-realtime-orders}/venv-py3.X-<hash>
# keyed by pyproject.toml, setup.py and the interpreter's exact build, so a second run (or another clone,
# such as CI's fresh one) skips the install. The tests always import this clone's code: pytest runs from the
# clone's root with PYTHONPATH set to it (the editable install may point at whichever clone built the venv).
# A Python that is not installed is skipped with one line saying how to get it; a failing one fails the run.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
MAIN_PY="${MAIN_PY:-$REPO/.venv/bin/python}"
EXTRAS="${PYTHON_MATRIX_EXTRAS:-local,publisher,dashboard,dev}"
CACHE="${PYTHON_MATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/olist-realtime-orders}"
PYENV_DIR="${PYENV_ROOT:-$HOME/.pyenv}"

say() { printf 'python-matrix: %s\n' "$*"; }

versions=()
pytest_args=()
while (($#)); do
    case "$1" in
        --) shift; pytest_args=("$@"); break ;;
        3.*) versions+=("$1"); shift ;;
        *) echo "usage: $0 [3.X ...] [-- PYTEST_ARGS ...]" >&2; exit 2 ;;
    esac
done
((${#pytest_args[@]})) || pytest_args=(-m unit)

# requires-python, read by .venv's Python (tomllib on 3.11+, a regex before; packaging comes with pytest).
read_spec='
import re, sys
text = open("pyproject.toml", encoding="utf-8").read()
try:
    import tomllib
    spec = tomllib.loads(text)["project"]["requires-python"]
except ModuleNotFoundError:
    spec = re.search(r"^requires-python\s*=\s*\"([^\"]+)\"", text, re.M).group(1)
print(spec)
'
if [[ ! -x "$MAIN_PY" ]]; then
    echo "python-matrix: $MAIN_PY not found: run \`make venv\` first" >&2
    exit 2
fi
SPEC="$("$MAIN_PY" -c "$read_spec")"
if ((${#versions[@]} == 0)); then
    own="$("$MAIN_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    mapfile -t versions < <("$MAIN_PY" - "$SPEC" "$own" <<'EOF'
import sys
from packaging.specifiers import SpecifierSet
spec, own = SpecifierSet(sys.argv[1]), sys.argv[2]
for minor in range(6, 30):
    version = f"3.{minor}"
    if version != own and any(f"{version}.{patch}" in spec for patch in range(100)):
        print(version)
EOF
    )
    if ((${#versions[@]} == 0)); then
        say "requires-python \"$SPEC\" names no Python besides .venv's $own: nothing to run"
        exit 0
    fi
fi

# The newest installed CPython 3.X that works and can make a venv: pyenv's (whose `python3.X` shims fail
# unless that version is selected), then PATH, then the system's.
find_python() {
    local version="$1" candidate prefix
    local -a candidates=()
    if command -v pyenv >/dev/null 2>&1 && prefix="$(pyenv prefix "$version" 2>/dev/null)"; then
        candidates+=("$prefix/bin/python$version")
    fi
    while IFS= read -r prefix; do
        candidates+=("$prefix/bin/python$version")
    done < <(printf '%s\n' "$PYENV_DIR/versions/$version".* | sort -rV)
    if candidate="$(command -v "python$version" 2>/dev/null)"; then candidates+=("$candidate"); fi
    candidates+=("/usr/local/bin/python$version" "/usr/bin/python$version")
    for candidate in "${candidates[@]}"; do
        if [[ -x "$candidate" ]] && "$candidate" -c "import sys, venv, ensurepip
sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

mkdir -p "$CACHE"
declare -a summary=()
failed=0
for version in "${versions[@]}"; do
    if ! python="$(find_python "$version")"; then
        say "Python $version is not installed: skipped (get it with \`pyenv install $version\`, or apt-get install python$version-venv)"
        summary+=("$version skipped (not installed)")
        continue
    fi
    build="$("$python" -c 'import os, sys; print(sys.version, os.path.realpath(sys.executable))')"
    key="$( { cat pyproject.toml setup.py; printf '%s\n' "$EXTRAS" "$build"; } | sha256sum | cut -c1-12)"
    venv="$CACHE/venv-py$version-$key"
    if ! (
        # One install at a time per venv, across clones and concurrent runs.
        exec 9>"$venv.lock"
        if command -v flock >/dev/null 2>&1; then flock 9; fi
        if [[ ! -f "$venv/.installed" ]]; then
            rm -rf "$venv"
            started=$SECONDS
            say "Python $version ($python): installing .[${EXTRAS}] into $venv"
            # pip's output (warnings included) goes to a log, shown only if the install fails.
            log="$venv.install.log"
            if ! { "$python" -m venv "$venv" &&
                "$venv/bin/python" -m pip install --quiet --upgrade pip &&
                "$venv/bin/python" -m pip install --quiet -e ".[${EXTRAS}]"; } >"$log" 2>&1; then
                tail -n 60 "$log" >&2
                say "Python $version: the install failed (whole log: $log)"
                exit 1
            fi
            printf '%s\n' "$REPO" >"$venv/.installed"
            say "Python $version: installed in $((SECONDS - started)) s"
        fi
        touch "$venv"
    ); then
        summary+=("$version FAILED (install)")
        failed=1
        continue
    fi
    # Venvs of this version for an older pyproject, unused for a day.
    find "$CACHE" -maxdepth 1 -name "venv-py$version-*" ! -name "venv-py$version-$key*" -mtime +0 \
        -exec rm -rf {} + 2>/dev/null || true

    started=$SECONDS
    say "Python $version: pytest ${pytest_args[*]}"
    status=0
    PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" -m pytest "${pytest_args[@]}" || status=$?
    case "$status" in
        0) summary+=("$version passed ($((SECONDS - started)) s)") ;;
        5) summary+=("$version FAILED: pytest selected no test"); failed=1 ;;
        *) summary+=("$version FAILED (pytest exit $status)"); failed=1 ;;
    esac
done

joined="$(printf '%s; ' "${summary[@]}")"
say "requires-python \"$SPEC\": ${joined%; }"
exit "$failed"
