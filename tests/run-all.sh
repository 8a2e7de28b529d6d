#!/usr/bin/env bash
# Runs every test layer, fastest first (no VM → real x86_64 VMs: one shared by the suites that test
# no boot behaviour, one per other suite → browser against a real VM → the slower aarch64-under-TCG
# suite), prints each stage's wall time, and ends with one line:
# "N passed, N failed" (", N skipped" when tests were skipped; a skipped test never counts as passed).
# A test that did not run because its beforeAll failed counts as failed, and so does a failing
# afterAll or a test file that cannot load.
# Usage: npm test   (BERTH_TEST_LAYERS="static unit integration e2e aarch64" to pick layers)
set -uo pipefail
cd "$(dirname "$0")/.."
layers=${BERTH_TEST_LAYERS:-static unit packaging integration e2e aarch64}
out=tests/artifacts/results
mkdir -p "$out"
rm -f "$out"/*.json
passed=0
failed=0
skipped=0
times=()
stage_name=''
stage_t0=0
stage() { # short name, heading: closes the previous stage's clock and starts this one's
  [ -n "$stage_name" ] && times+=("$(printf '  %-14s %s' "$stage_name" "$(clock $((SECONDS - stage_t0)))")")
  stage_name=$1
  stage_t0=$SECONDS
  [ -n "$1" ] && printf '\n== %s ==\n' "$2"
  return 0
}
clock() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
count_check() { # name, exit code
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
count_tally() { # tool, tally file (tests/tally-reporter.mts, tests/tally-playwright.mts), exit code
  if [ -s "$2" ]; then
    local p f s
    read -r p f s < <(node -e '
      const t = require(process.argv[1]);
      console.log(t.passed, t.failed, t.skipped);
      for (const l of t.problems) console.error("  FAILED: " + l);
      const mmss = (x) => ((r) => `${Math.floor(r / 60)}:${String(r % 60).padStart(2, "0")}`)(Math.round(x));
      for (const x of t.files) if (x.seconds >= 30) console.error(`  ${mmss(x.seconds)} ${x.file}`);' "$(realpath "$2")")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    echo "$1: $p passed, $f failed, $s skipped ($(basename "$2" .tally.json))"
    # A run that failed with nothing counted as failed (e.g. the runner's own startup) still fails.
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); echo "FAILED: $1 exited $3 with no failed test"; fi
  else
    failed=$((failed + 1)); echo "FAILED: $1 produced no results ($2, exit $3)"
  fi
}
run_vitest() { # results name, config, extra vitest arguments…
  local name=$1 config=$2
  shift 2
  BERTH_TALLY_FILE="$PWD/$out/$name.tally.json" npx vitest run --config "$config" "$@" --reporter=default --reporter=./tests/tally-reporter.mts --reporter=json --outputFile="$out/$name.json"
  count_tally vitest "$out/$name.tally.json" $?
}
has() { [[ " $layers " == *" $1 "* ]]; }

stage build "build"
npx tsc -p tsconfig.json; count_check "tsc build (electron/, incl. main & preload against electron.d.ts)" $?
if [ -f renderer/vite.config.mts ]; then
  npx vite build --config renderer/vite.config.mts --logLevel warn; count_check "renderer build (vite)" $?
fi

if has static; then
  stage static "static checks"
  npx eslint --max-warnings 0 electron renderer/src tests $([ -d bench ] && echo bench); count_check "eslint (folder import rules)" $?
  npx tsc -p tsconfig.tests.json; count_check "typecheck of electron/ and every test folder but the renderer's" $?
  npx tsc -p tsconfig.tests.renderer.json; count_check "typecheck of the renderer's tests (JSX, DOM)" $?
  if [ -f renderer/tsconfig.json ]; then npx tsc -p renderer/tsconfig.json --noEmit; count_check "renderer typecheck" $?; fi
fi

if has unit; then
  stage unit "unit tests (no VM)"
  run_vitest unit tests/vitest.unit.mts
fi

if has packaging; then
  stage packaging "packaging (electron-builder against a stand-in Electron dist)"
  run_vitest packaging tests/vitest.packaging.mts
fi

if has integration || has e2e || has aarch64; then
  stage image "guest image x86_64 (cached by recipe hash)"
  bash build/guest/build-image.sh x86_64; count_check "guest image x86_64" $?
fi

if has integration; then
  # One project after the other, so that one VM runs at a time: first the suites that share one VM
  # (booted once for them), then those that boot their own (see tests/vitest.integration.mts).
  stage "int. shared-vm" "integration tests on one shared x86_64 VM (suites that test no boot behaviour)"
  run_vitest integration-shared-vm tests/vitest.integration.mts --project shared-vm
  stage "int. own-vm" "integration tests, each suite with the x86_64 VM it boots"
  run_vitest integration-own-vm tests/vitest.integration.mts --project own-vm
fi

if has e2e && [ -f tests/e2e/playwright.config.mts ]; then
  stage e2e "e2e: the built renderer in Chromium against a real supervisor and VM"
  BERTH_TALLY_FILE="$PWD/$out/e2e.tally.json" PLAYWRIGHT_JSON_OUTPUT_NAME="$PWD/$out/e2e.json" npx playwright test -c tests/e2e/playwright.config.mts --reporter=list,json,./tests/tally-playwright.mts
  count_tally playwright "$out/e2e.tally.json" $?
fi

if has aarch64; then
  stage aarch64 "aarch64 guest under TCG (image and suite)"
  bash build/guest/build-image.sh aarch64; count_check "guest image aarch64" $?
  run_vitest aarch64 tests/vitest.aarch64.mts
fi
stage "" ""

echo
echo "== wall time per stage =="
printf '%s\n' "${times[@]}"
printf '  %-14s %s\n' "total" "$(clock "$SECONDS")"
echo
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" = 0 ]
