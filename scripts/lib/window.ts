/** The most events in any `windowMs`-long window (times in ms, any order). */
export function busiestWindow(times: number[], windowMs = 1000): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let hi = 0, lo = 0; hi < s.length; hi += 1) {
    while (s[hi]! - s[lo]! >= windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
