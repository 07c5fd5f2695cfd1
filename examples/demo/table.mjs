// Console tables for the demo: CPU per tag set next to the server's own timing.
import { parseKey } from 'reqprof';

/** Milliseconds of timed CPU work per tag key, taken window by window. */
export class TruthTable {
  #ms = new Map();
  add(key, ms) {
    this.#ms.set(key, (this.#ms.get(key) ?? 0) + ms);
  }
  take() {
    const m = this.#ms;
    this.#ms = new Map();
    return m;
  }
}

const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
const pad = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));

function label(key) {
  if (key === '') return '(untagged)';
  const t = parseKey(key);
  const parts = [];
  for (let i = 0; i < t.length; i += 2) parts.push(`${t[i]}=${t[i + 1]}`);
  return parts.join(' ');
}

/** Half-width of the 95% interval of a share estimated from n samples. */
function margin(p, n) {
  return n > 0 ? 1.96 * Math.sqrt((p * (1 - p)) / n) : 0;
}

export function printWindow(index, profiles, window, truth) {
  const tagged = profiles.filter((p) => p.key !== '');
  const taggedCpu = tagged.reduce((s, p) => s + p.value, 0);
  const taggedSamples = tagged.reduce((s, p) => s + p.samples, 0);
  let truthTotal = 0;
  for (const v of truth.values()) truthTotal += v;
  console.log(`window ${index}: ${(window.durationMs / 1000).toFixed(2)} s, ${window.samples} samples, ` +
    `CPU ${(window.totalCpu / 1e6).toFixed(0)} ms (untagged ${pct(window.totalCpu ? window.untaggedCpu / window.totalCpu : 0).trim()})`);
  console.log(`  ${pad('tags', 34)} ${'CPU ms'.padStart(8)} ${'share'.padStart(6)} ${'±95%'.padStart(6)} ${'truth'.padStart(6)}`);
  for (const p of tagged) {
    const share = taggedCpu > 0 ? p.value / taggedCpu : 0;
    const t = truthTotal > 0 ? (truth.get(p.key) ?? 0) / truthTotal : 0;
    console.log(`  ${pad(label(p.key), 34)} ${(p.value / 1e6).toFixed(1).padStart(8)} ${pct(share)} ${pct(margin(share, taggedSamples)).replace(' ', '±').padStart(6)} ${pct(t)}`);
  }
  console.log('  (share: of tagged CPU, ±95% from the sample count; truth: share of the CPU the handlers timed themselves)\n');
}

/** Measured vs timed shares per route and per tenant over all windows; returns the largest error. */
export function printSummary(history) {
  for (const dim of ['route', 'tenant']) {
    const measured = new Map();
    const timed = new Map();
    let samples = 0;
    for (const h of history) {
      for (const p of h.profiles) {
        if (p.key === '') continue;
        const v = valueOf(p.key, dim);
        measured.set(v, (measured.get(v) ?? 0) + p.value);
        samples += p.samples;
      }
      for (const [k, ms] of h.truth) {
        const v = valueOf(k, dim);
        timed.set(v, (timed.get(v) ?? 0) + ms);
      }
    }
    const mTotal = [...measured.values()].reduce((a, b) => a + b, 0);
    const tTotal = [...timed.values()].reduce((a, b) => a + b, 0);
    let maxErr = 0;
    console.log(`CPU share by ${dim}, all windows (${samples} tagged samples):`);
    for (const [v, t] of [...timed].sort((a, b) => b[1] - a[1])) {
      const m = (measured.get(v) ?? 0) / mTotal;
      const truthShare = t / tTotal;
      maxErr = Math.max(maxErr, Math.abs(m - truthShare));
      console.log(`  ${pad(v, 12)} measured ${pct(m)}   truth ${pct(truthShare)}   error ${((m - truthShare) * 100).toFixed(2).padStart(6)} pp`);
    }
    console.log(`  largest error: ${(maxErr * 100).toFixed(2)} pp\n`);
  }
}

function valueOf(key, dim) {
  const t = parseKey(key);
  for (let i = 0; i < t.length; i += 2) if (t[i] === dim) return t[i + 1];
  return '?';
}
