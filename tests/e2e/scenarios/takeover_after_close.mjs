// The tab guard on the real page: the primary tab closes (unload runs) or its renderer crashes
// (no unload); a waiting tab (autoTakeover) must become primary, every run (asserted, within
// takeoverAfterClose's 20 s). How fast is a figure, not asserted here: takeover_ms is the worst
// of the runs, all runs are in the figures; the ≤ 1 s goal is measured and reported by the tabs
// stage (tests/tabs/run.mjs, README "Tab guard"), where timing goals live.
import { takeoverAfterClose } from '../../tabs/scenarios.mjs';
import { fail, pageUrl } from '../lib/page.mjs';

export const name = 'takeover_after_close';
export const order = 61;
const ROUNDS = 5;

export async function run(ctx) {
  const url = `${await pageUrl(ctx)}?guard=1`;
  const browser = await ctx.browser();
  const close = [];
  const crash = [];
  for (let i = 0; i < ROUNDS; i++) {
    close.push(await takeoverAfterClose(browser, url, { tabs: 2 + (i % 3), how: 'close' }));
    crash.push(await takeoverAfterClose(browser, url, { tabs: 2 + (i % 3), how: 'crash' }));
  }
  const ms = (rs) => rs.map((r) => r.takeover_ms).filter((x) => typeof x === 'number');
  const all = [...ms(close), ...ms(crash)];
  const figures = {
    takeover_ms: all.length ? Math.max(...all) : null,
    takeover_close_ms: ms(close),
    takeover_crash_ms: ms(crash),
    runs_ok: [...close, ...crash].filter((r) => r.ok).length,
    runs: close.length + crash.length,
  };
  ctx.log(`takeover after close ${figures.takeover_close_ms.join('/')} ms, after crash ${figures.takeover_crash_ms.join('/')} ms`);
  if (figures.runs_ok !== figures.runs) throw fail(`failed runs: ${JSON.stringify([...close, ...crash].filter((r) => !r.ok)).slice(0, 1500)}`, figures);
  return figures;
}
