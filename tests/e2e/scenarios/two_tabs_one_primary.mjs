// The tab guard on the real page (matrix-js-sdk + crypto-wasm + crypto-health, `?guard=1`):
// 2..5 tabs opened at the same instant, 20 times, Web Locks: exactly one primary every time.
// The scenario logic is shared with the tabs stage (tests/tabs/scenarios.mjs).
import { twoTabsOnePrimary } from '../../tabs/scenarios.mjs';
import { fail, pageUrl } from '../lib/page.mjs';

export const name = 'two_tabs_one_primary';
export const order = 60;
const ROUNDS = 20;

export async function run(ctx) {
  const url = `${await pageUrl(ctx)}?guard=1`;
  const browser = await ctx.browser();
  const results = [];
  for (let i = 0; i < ROUNDS; i++) {
    results.push(await twoTabsOnePrimary(browser, url, { tabs: 2 + (i % 4) }));
  }
  const ok = results.filter((r) => r.ok).length;
  const decided = results.map((r) => r.decided_ms).filter((x) => typeof x === 'number').sort((a, b) => a - b);
  const figures = {
    rounds: ROUNDS,
    exactly_one_primary: ok,
    mechanism: results[0] && results[0].mechanism,
    decided_ms_p50: decided[Math.floor(decided.length / 2)] ?? null,
    decided_ms_max: decided.at(-1) ?? null,
  };
  ctx.log(`${ok}/${ROUNDS} rounds with exactly one primary (${figures.mechanism}); roles decided p50 ${figures.decided_ms_p50} ms`);
  if (ok !== ROUNDS) throw fail(`rounds without exactly one primary: ${JSON.stringify(results.filter((r) => !r.ok)).slice(0, 1500)}`, figures);
  if (figures.mechanism !== 'web-locks') throw fail(`mechanism ${figures.mechanism}`, figures);
  return figures;
}
