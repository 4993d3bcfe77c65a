#!/usr/bin/env bash
# The project's test command (`npm test`). Runs scripts/setup.sh (skips what is
# present), then these stages in order; each stage is one test:
#   lint     cargo fmt --check; cargo clippy -D warnings (workspace, and the wasm crate on its target),
#            which makes errors of the workspace lints (Cargo.toml [workspace.lints]: missing_docs,
#            unreachable_pub, clippy unwrap_used/expect_used outside tests)
#   native   cargo test --workspace --exclude crypto-health   (the wasm crate is browser-only)
#   browser  wasm-pack test --headless --chrome crates/wasm   (Debian chromium + chromedriver)
#   build    node scripts/build.mjs                            (release pkg/, wasm-opt; fails if what an
#            import loads, wasm + pkg/index.js, exceeds the 152 KiB budget gzipped: see README "Size")
#   smoke    node tests/smoke/release-smoke.mjs                (release pkg/ in Chromium), then the
#            panic-test build (target/pkg-panic) and tests/smoke/panic-smoke.mjs: after a panic capture
#            stops visibly, the report says so, console and fetch go on
#   tabs     node tests/tabs/run.mjs                           (multi-tab guard in real Chromium tabs:
#            one primary, takeover after close/crash, steal, lease fallback; figures in
#            target/tabs/results.json; TABS_ROUNDS=n for fewer rounds, default 20)
#   http     node tests/http/http-tap.mjs                      (fetch tap vs a scripted homeserver, Chromium)
#   bench    node tests/bench/bench.mjs --quick                (performance figures, ~30 s; fails only on a
#            harness error or unbounded memory: timing goals are reported, see README "Performance")
#   kit      node tests/kit/kit-build.mjs                      (React kit type-check; www/ built with
#            Vite as a Cinny fork builds it, driven in Chromium: card, report download, prompt)
#   e2e      npm run e2e (tests/e2e/run.mjs)                   (a real Synapse on loopback + scenarios;
#            figures in target/e2e/summary.json)
#   forks    node tests/forks/integrator.mjs, then node tests/forks/run.mjs --tree upstream, --tree calls,
#            --tree sable   (the shipped integrator, `crypto-health-cinny`, run in three real
#            Cinny-family trees: upstream v4.12.6, a 4.8.1-based fork with its own call work (npm,
#            sessions in `matrixSessions`) and Sable 1.18.3 (pnpm, Vite 7, oxlint/oxfmt, its own
#            crypto store prefix); in each the browser flow: login, card, UTD row, eviction, storm,
#            prompt, report after the card's re-check, second tab; triage and logout on upstream;
#            each tree's type check, linter and formatter on the touched files and
#            its vite build; installs cached in target/cinny-cache/, figures, diffs and screenshots
#            in target/forks/<tree>/)
# Stops at the first failing stage; always ends with a plain `N passed, M failed` line.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

# Browser tests: Debian's chromedriver, never a downloaded one. The capabilities
# (Chromium flags for running as root without internet) live in scripts/webdriver.json;
# wasm-bindgen-test-runner reads the file named by this variable.
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$ROOT/scripts/webdriver.json}"

STAGES=(lint native browser build smoke tabs http bench kit e2e forks)
passed=0
failed=0
skipped=0
results=()

stage_cmd() {
  case "$1" in
    lint)    cargo fmt --all -- --check &&
             cargo clippy --workspace --all-targets --exclude crypto-health -- -D warnings &&
             cargo clippy -p crypto-health --target wasm32-unknown-unknown --all-targets -- -D warnings ;;
    native)  cargo test --workspace --exclude crypto-health ;;
    browser) wasm-pack test --headless --chrome crates/wasm ;;
    build)   node scripts/build.mjs ;;
    smoke)   node tests/smoke/release-smoke.mjs && node scripts/build.mjs --panic-test && node tests/smoke/panic-smoke.mjs ;;
    tabs)    TABS_ROUNDS="${TABS_ROUNDS:-5}" node tests/tabs/run.mjs ;;
    http)    node tests/http/http-tap.mjs ;;
    bench)   node tests/bench/bench.mjs --quick ;;
    kit)     node tests/kit/kit-build.mjs ;;
    e2e)     node tests/e2e/run.mjs ;;
    forks)   node tests/forks/integrator.mjs && node tests/forks/run.mjs --tree upstream &&
             node tests/forks/run.mjs --tree calls && node tests/forks/run.mjs --tree sable ;;
  esac
}

# Install whatever is missing first (quick no-op when everything is present). Not a
# test itself, but a failure here fails the run and skips every stage.
printf '==> setup\n'
if ! bash scripts/setup.sh </dev/null; then
  failed=1
  results+=("FAIL  setup (scripts/setup.sh)")
fi

for stage in "${STAGES[@]}"; do
  if [ "$failed" -gt 0 ]; then
    skipped=$((skipped + 1))
    results+=("SKIP  $stage")
    continue
  fi
  printf '\n==> stage %s\n' "$stage"
  start=$SECONDS
  if stage_cmd "$stage"; then
    passed=$((passed + 1))
    results+=("PASS  $stage ($((SECONDS - start))s)")
  else
    rc=$?
    failed=$((failed + 1))
    results+=("FAIL  $stage (exit $rc, $((SECONDS - start))s)")
  fi
done

printf '\n==> summary\n'
printf '  %s\n' "${results[@]}"
if [ -f target/size.json ]; then
  node -e 'const s = require("./target/size.json"); const kib = (b) => (b / 1024).toFixed(1) + " KiB";
    console.log(`  SIZE  wasm + JS loaded at import, gzipped ${kib(s.total_gzip)} / budget ${kib(s.budget_gzip)}: ${s.ok ? "within" : "OVER"}`);' || true
fi
if [ -f target/bench/results.json ] && [[ " ${results[*]} " == *"PASS  bench"* ]]; then
  node -e 'const r = require("./target/bench/results.json");
    for (const g of r.goals) console.log(`  BENCH ${g.met ? "met   " : "MISSED"} ${g.key} = ${Number(g.value).toFixed(g.key.endsWith("bytes") ? 0 : 2)} (max ${g.max})`);' || true
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
