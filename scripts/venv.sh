#!/bin/sh
# Create or update a virtual environment from a requirements file.
# Usage: scripts/venv.sh NAME PYTHON_VERSION VENV_DIR REQUIREMENTS
# Reinstalls only when the requirements file changed since the last successful install.
set -eu
name="$1"; version="$2"; venv="$3"; reqs="$4"
log="var/log/setup-$name.log"
mkdir -p var/log
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$reqs" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python="$(scripts/find-python.sh "$version")"
start=$(date +%s)
echo "  setting up the $name environment (Python $version, log: $log) ..."
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >"$log" 2>&1
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip wheel 'setuptools<70' >>"$log" 2>&1
if ! "$venv/bin/python" -m pip install --quiet -r "$reqs" >>"$log" 2>&1; then
  echo "  installing the $name environment failed; see $log" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
echo "$want" >"$stamp"
echo "  $name environment ready in $(( $(date +%s) - start )) s"
