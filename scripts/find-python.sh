#!/bin/sh
# Print the path of a Python interpreter of the given minor version (e.g. 3.10):
# a pyenv-installed one first, then one on PATH.
set -eu
want="$1"
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
found="$(ls -d "$root"/versions/"$want".*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$found" ] && command -v "python$want" >/dev/null 2>&1; then
  found="$(command -v "python$want")"
fi
if [ -z "$found" ]; then
  echo "Python $want not found: install it (e.g. 'pyenv install $want') and retry." >&2
  exit 1
fi
echo "$found"
