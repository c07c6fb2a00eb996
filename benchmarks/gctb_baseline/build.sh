#!/usr/bin/env bash
# Build the SBayesR C++ baseline with GCTB 2.0's Linux compiler flags (its Makefile: g++ -O3
# -msse2 -m64 -fopenmp -DNDEBUG; no -march=native), against Eigen 3.4.
# Usage: benchmarks/gctb_baseline/build.sh [OUTPUT]   (default: next to this script)
# Eigen: EIGEN3_INCLUDE_DIR, else /usr/include/eigen3 (Debian/Ubuntu: apt-get install libeigen3-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/sbayesr_baseline}"
eigen="${EIGEN3_INCLUDE_DIR:-/usr/include/eigen3}"
if [ ! -f "$eigen/Eigen/Dense" ]; then
  echo "build.sh: Eigen not found in $eigen (set EIGEN3_INCLUDE_DIR or install libeigen3-dev)" >&2
  exit 2
fi
"${CXX:-g++}" -std=c++17 -O3 -msse2 -m64 -fopenmp -DNDEBUG -Wall -I "$eigen" \
  -o "$out" "$here/sbayesr_baseline.cpp"
echo "$out"
