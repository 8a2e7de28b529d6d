#!/usr/bin/env bash
# Runs every test layer, fastest first (no VM → one x86_64 VM per suite → browser against a real
# VM → the slower aarch64-under-TCG suite), and ends with one line: "N passed, N failed".
# Usage: npm test   (BERTH_TEST_LAYERS="static unit integration e2e aarch64" to pick layers)
set -uo pipefail
cd "$(dirname "$0")/.."
layers=${BERTH_TEST_LAYERS:-static unit packaging integration e2e aarch64}
out=tests/artifacts/results
mkdir -p "$out"
rm -f "$out"/*.json
passed=0
failed=0
note() { printf '\n== %s ==\n' "$*"; }
count_check() { # name, exit code
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
count_vitest() { # json file, exit code
  if [ -s "$1" ]; then
    read -r p f < <(node -e 'const r=require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTests||0) + (r.success===false && r.numFailedTests===0 ? 1 : 0))' "$(realpath "$1")")
    passed=$((passed + p)); failed=$((failed + f))
    echo "vitest: $p passed, $f failed ($(basename "$1"))"
  else
    failed=$((failed + 1)); echo "FAILED: $1 produced no results (exit $2)"
  fi
}
count_playwright() { # json file, exit code
  if [ -s "$1" ]; then
    read -r p f s < <(node -e 'const r=require(process.argv[1]).stats; console.log(r.expected, r.unexpected + r.flaky, r.skipped)' "$(realpath "$1")")
    passed=$((passed + p)); failed=$((failed + f))
    echo "playwright: $p passed, $f failed, $s skipped (not counted as passed)"
  else
    failed=$((failed + 1)); echo "FAILED: playwright produced no results (exit $2)"
  fi
}
has() { [[ " $layers " == *" $1 "* ]]; }

note "build"
npx tsc -p tsconfig.json; count_check "tsc build (electron/, incl. main & preload against electron.d.ts)" $?
if [ -f renderer/vite.config.mts ]; then
  npx vite build --config renderer/vite.config.mts --logLevel warn; count_check "renderer build (vite)" $?
fi

if has static; then
  note "static checks"
  npx eslint --max-warnings 0 electron renderer/src tests $([ -d bench ] && echo bench); count_check "eslint (folder import rules, DESIGN §2)" $?
  npx tsc -p tsconfig.tests.json; count_check "typecheck of the engine, CLI and VM tests" $?
  if [ -f renderer/tsconfig.json ]; then npx tsc -p renderer/tsconfig.json --noEmit; count_check "renderer typecheck" $?; fi
fi

if has unit; then
  note "unit tests (no VM)"
  npx vitest run --config tests/vitest.unit.mts --reporter=default --reporter=json --outputFile="$out/unit.json"
  count_vitest "$out/unit.json" $?
fi

if has packaging; then
  note "packaging (electron-builder against a stand-in Electron dist)"
  npx vitest run --config tests/vitest.packaging.mts --reporter=default --reporter=json --outputFile="$out/packaging.json"
  count_vitest "$out/packaging.json" $?
fi

if has integration || has e2e || has aarch64; then
  note "guest images (cached by recipe hash)"
  bash build/guest/build-image.sh x86_64; count_check "guest image x86_64" $?
fi

if has integration; then
  note "integration tests (one real x86_64 VM per suite)"
  npx vitest run --config tests/vitest.integration.mts --reporter=default --reporter=json --outputFile="$out/integration.json"
  count_vitest "$out/integration.json" $?
fi

if has e2e && [ -f tests/e2e/playwright.config.mts ]; then
  note "e2e: the built renderer in Chromium against a real supervisor and VM"
  PLAYWRIGHT_JSON_OUTPUT_NAME="$PWD/$out/e2e.json" npx playwright test -c tests/e2e/playwright.config.mts --reporter=list,json
  count_playwright "$out/e2e.json" $?
fi

if has aarch64; then
  note "aarch64 guest under TCG"
  bash build/guest/build-image.sh aarch64; count_check "guest image aarch64" $?
  npx vitest run --config tests/vitest.aarch64.mts --reporter=default --reporter=json --outputFile="$out/aarch64.json"
  count_vitest "$out/aarch64.json" $?
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
