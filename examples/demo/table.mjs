// Console tables for the demo: CPU per tag set next to the server's own timing.
import { parseKey, shareMargin } from 'reqprof';

/** Milliseconds of timed CPU work per tag key (and requests per key), taken window by window. */
export class TruthTable {
  #ms = new Map();
  #n = new Map();
  add(key, ms) {
    this.#ms.set(key, (this.#ms.get(key) ?? 0) + ms);
    this.#n.set(key, (this.#n.get(key) ?? 0) + 1);
  }
  take() {
    const m = this.#ms;
    m.requests = this.#n;
    this.#ms = new Map();
    this.#n = new Map();
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

/** Sums profiles over the tags not in `keep` (the demo's truth is per route and tenant). */
function fold(profiles, keep) {
  const out = new Map();
  for (const p of profiles) {
    const t = parseKey(p.key);
    const parts = [];
    for (let i = 0; i < t.length; i += 2) if (keep.includes(t[i])) parts.push(`${t[i]}=${t[i + 1]}`);
    const k = parts.join('|');
    const o = out.get(k) ?? { key: k, value: 0, samples: 0, requests: 0 };
    o.value += p.value;
    o.samples += p.samples;
    o.requests += p.requests ?? 0;
    out.set(k, o);
  }
  return [...out.values()].sort((a, b) => b.value - a.value);
}

export function printWindow(index, profiles, window, truth) {
  const tagged = fold(profiles.filter((p) => p.key !== ''), ['route', 'tenant']);
  const taggedCpu = tagged.reduce((s, p) => s + p.value, 0);
  const taggedSamples = tagged.reduce((s, p) => s + p.samples, 0);
  let truthTotal = 0;
  for (const v of truth.values()) truthTotal += v;
  console.log(`window ${index}: ${(window.durationMs / 1000).toFixed(2)} s, ${window.samples} samples, ` +
    `CPU ${(window.totalCpu / 1e6).toFixed(0)} ms (untagged ${pct(window.totalCpu ? window.untaggedCpu / window.totalCpu : 0).trim()})`);
  console.log(`  ${pad('route, tenant', 32)} ${'CPU ms'.padStart(8)} ${'share'.padStart(6)} ${'±95%'.padStart(6)} ${'truth'.padStart(6)} ${'reqs'.padStart(5)} ${'ms/req'.padStart(7)}`);
  for (const p of tagged) {
    const share = taggedCpu > 0 ? p.value / taggedCpu : 0;
    const t = truthTotal > 0 ? (truth.get(p.key) ?? 0) / truthTotal : 0;
    const perReq = p.requests > 0 ? (p.value / 1e6 / p.requests).toFixed(2) : '-';
    console.log(`  ${pad(label(p.key), 32)} ${(p.value / 1e6).toFixed(1).padStart(8)} ${pct(share)} ${pct(shareMargin(share, taggedSamples)).replace(' ', '±').padStart(6)} ${pct(t)} ${String(p.requests).padStart(5)} ${perReq.padStart(7)}`);
  }
  const bySize = fold(profiles.filter((p) => p.key !== ''), ['size']);
  console.log(`  message-stage tag: ${bySize.map((p) => `${label(p.key) || '(none)'} ${pct(taggedCpu ? p.value / taggedCpu : 0).trim()}`).join(', ')}`);
  const hot = profiles.find((p) => p.topFunctions?.length && p.key.includes('/checkout'));
  if (hot) console.log(`  hottest in ${label(hot.key)}: ${hot.topFunctions.map((f) => `${f.name} ${pct(f.percent).trim()}`).join(', ')}`);
  console.log('  (share: of tagged CPU, ±95% from the sample count; truth: share of the CPU the handlers timed in their own work,\n   without the HTTP and JSON work every request also does: the summary adds it)\n');
}

/**
 * Measured against true shares per route and per tenant over all windows.
 *
 * Every request also spends CPU outside the timed burst (HTTP parsing, body
 * decoding, the JSON reply): the same work whatever the route, so the truth
 * adds one per-request overhead, fitted from the totals alone (tagged CPU
 * minus timed CPU, over all requests). Per-route shares stay a real test.
 */
export function printSummary(history) {
  let measuredMs = 0;
  let timedMs = 0;
  let requests = 0;
  let samples = 0;
  for (const h of history) {
    for (const p of h.profiles) {
      if (p.key === '') continue;
      measuredMs += p.value / 1e6;
      samples += p.samples;
    }
    for (const [k, ms] of h.truth) {
      timedMs += ms;
      requests += h.truth.requests.get(k) ?? 0;
    }
  }
  const overheadMs = requests > 0 ? Math.max(0, (measuredMs - timedMs) / requests) : 0;
  console.log(`${requests} requests, ${samples} tagged samples; CPU per request outside the timed work (HTTP, JSON): ${overheadMs.toFixed(3)} ms\n`);
  for (const dim of ['route', 'tenant']) {
    const measured = new Map();
    const truth = new Map();
    const perRequest = new Map();
    for (const h of history) {
      for (const p of h.profiles) {
        if (p.key === '') continue;
        const v = valueOf(p.key, dim);
        measured.set(v, (measured.get(v) ?? 0) + p.value / 1e6);
      }
      for (const [k, ms] of h.truth) {
        const v = valueOf(k, dim);
        const n = h.truth.requests.get(k) ?? 0;
        truth.set(v, (truth.get(v) ?? 0) + ms + overheadMs * n);
        perRequest.set(v, (perRequest.get(v) ?? 0) + n);
      }
    }
    const mTotal = [...measured.values()].reduce((a, b) => a + b, 0);
    const tTotal = [...truth.values()].reduce((a, b) => a + b, 0);
    let maxErr = 0;
    console.log(`CPU share by ${dim}:`);
    for (const [v, t] of [...truth].sort((a, b) => b[1] - a[1])) {
      const m = (measured.get(v) ?? 0) / mTotal;
      const truthShare = t / tTotal;
      const n = perRequest.get(v) ?? 0;
      maxErr = Math.max(maxErr, Math.abs(m - truthShare));
      console.log(`  ${pad(v, 12)} measured ${pct(m)}   truth ${pct(truthShare)}   error ${((m - truthShare) * 100).toFixed(2).padStart(6)} pp` +
        `   CPU/request ${(n ? (measured.get(v) ?? 0) / n : 0).toFixed(2)} ms`);
    }
    console.log(`  largest error: ${(maxErr * 100).toFixed(2)} pp\n`);
  }
}

function valueOf(key, dim) {
  const t = parseKey(key);
  for (let i = 0; i < t.length; i += 2) if (t[i] === dim) return t[i + 1];
  return '?';
}
