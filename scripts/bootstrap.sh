# Sourced by scripts/run and scripts/test: make .venv with the project installed in it.
# Re-installs only when pyproject.toml changed since the last install (by its content, not its
# date: in a fresh clone every file is newer than any earlier install), or for extras asked for
# that are missing ("dev", the only extra, holds everything "" installs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
extras=${1:-}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "hitl needs Python 3.11 or newer; $("$PYTHON" --version) found (set PYTHON=...)" >&2
  exit 1
}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
digest=$(.venv/bin/python -c \
  'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()[:16])')
installed=$(cat .venv/.installed 2>/dev/null || true)
if [ "$installed" != "$digest $extras" ] && [ "$installed" != "$digest dev" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  echo "$digest $extras" >.venv/.installed
fi
