#!/usr/bin/env bash
# What this repository needs from the machine, installed with apt when it is missing.
#
#   bash scripts/setup.sh        oneDNN's headers, so `npm ci` builds the native CPU backend
#                                (run by npm as the preinstall step)
#   bash scripts/setup.sh test   also Chromium and tmux for the tests, and the full Fashion-MNIST
#                                (run by npm as the pretest step, and by .ci/run)
#
# A no-op when everything is present. As root it installs with apt-get; otherwise it prints the
# exact sudo command and goes on (linea then says what it falls back to, and how much slower).
set -uo pipefail

needed=()
want() { # want <package> <path it provides>
  [ -e "$2" ] || needed+=("$1")
}

want libdnnl-dev /usr/include/dnnl.hpp
if [ "${1:-}" = test ]; then
  want chromium /usr/bin/chromium
  want tmux /usr/bin/tmux
  want dataset-fashion-mnist /usr/share/datasets/fashion-mnist
fi

[ ${#needed[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "linea setup: this is not a Debian/Ubuntu machine; install the equivalents of: ${needed[*]}" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "linea setup: missing ${needed[*]}; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${needed[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "linea setup: installing ${needed[*]} (apt)" >&2
if ! apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1
  apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null 2>&1 \
    || echo "linea setup: could not install ${needed[*]}; see: apt-get install ${needed[*]}" >&2
fi
exit 0
