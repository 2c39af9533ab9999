#!/bin/sh
# Coverage-guided fuzzing of munet's parsers with libFuzzer (spec/audit-figures.md).
#
#   scripts/libfuzzer.sh TARGET [libFuzzer options...]    e.g. scripts/libfuzzer.sh safetensors -max_total_time=60
#
# TARGET: safetensors, json, config, idx-images, idx-labels, npy-images, npy-labels, csv, model.
# `swift build -Xswiftc -sanitize=fuzzer` compiles the engine modules with libFuzzer's coverage
# instrumentation, but linking the `munet` executable with it fails on this toolchain (Swift 6.3.1:
# ld.gold "internal error in format_file_lineno"), and a libFuzzer executable would need a target
# in Package.swift. So: build only the engine targets instrumented, in .build-libfuzzer, and link
# fuzz/LibFuzzerHarness.swift against their objects with swiftc. Crashing inputs are written to
# fuzz/artifacts/. The seeded, deterministic campaign is `munet fuzz parsers`.
set -eu
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/libfuzzer.sh TARGET [libFuzzer options]}
shift
build=.build-libfuzzer
swift build -c release --build-path "$build" -Xswiftc -sanitize=fuzzer --target MuNetEvolution >&2
products="$build/x86_64-unknown-linux-gnu/release"
[ -d "$products" ] || products="$build/release"
objects=$(ls "$products"/MuNetRuntime.build/*.o "$products"/MuNetStorage.build/*.o "$products"/MuNetData.build/*.o \
  "$products"/MuNetModel.build/*.o "$products"/MuNetTraining.build/*.o "$products"/MuNetEvolution.build/*.o \
  "$products"/CMuNetSupport.build/*.o)
mkdir -p "$build/fuzzer" fuzz/artifacts
swiftc -O -sanitize=fuzzer -parse-as-library fuzz/LibFuzzerHarness.swift -I "$products/Modules" \
  -Xcc -fmodule-map-file="$products/CMuNetSupport.build/module.modulemap" $objects -o "$build/fuzzer/munet-libfuzzer" 2>&1 \
  | grep -v "Cannot export local symbol" >&2 || true
MUNET_LIBFUZZER_TARGET="$target" exec "$build/fuzzer/munet-libfuzzer" -artifact_prefix=fuzz/artifacts/ \
  -rss_limit_mb=4096 -timeout=20 "$@"
