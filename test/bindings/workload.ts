/**
 * A service's requests over a real database driver, measured against the CPU
 * they timed themselves. Tenants a, b and c (a skewed 6:3:1 mix) burn known
 * CPU before their I/O and in the callback or continuation after it, with
 * more requests in flight than the pool has connections. Four `opener`
 * requests go first and open the pool's connections.
 *
 * Each tenant burns in a function of its own (`burnForTenantA`...), so every
 * sample of the labelled pprof says both whose burn it was (its stack) and
 * whom reqprof billed (its labels).
 */
import type { Profile } from 'pprof-format';
import { newProfiler, tag, type TagsProfile, type WindowInfo } from '../../src/index.js';
import { burn, timed } from '../helpers/cpu.js';
import { forEachSample } from '../../bench/lib/pprof-samples.mjs';

export type Tenant = 'a' | 'b' | 'c' | 'opener';

const BURNERS: Record<Tenant, (ms: number) => void> = {
  a: function burnForTenantA(ms: number) { burn(ms); },
  b: function burnForTenantB(ms: number) { burn(ms); },
  c: function burnForTenantC(ms: number) { burn(ms); },
  opener: function burnForTenantOpener(ms: number) { burn(ms); },
};
const TENANT_OF_BURNER = new Map(Object.entries(BURNERS).map(([t, f]) => [f.name, t as Tenant]));

/** One I/O of the driver under test, in the style the case exercises. */
export type Io =
  | { style: 'callback'; run(done: (err?: unknown) => void): void }
  | { style: 'promise'; run(): Promise<unknown> };

export interface Truth {
  /** ms of CPU each tenant timed around its burns. */
  ms: Map<Tenant, number>;
}

const MIX: Tenant[] = ['a', 'a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'c'];

/** One request: burn, I/O, burn in the callback / after the await. */
function request(tenant: Tenant, io: Io, truth: Truth, beforeMs: number, afterMs: number): Promise<void> {
  const add = (ms: number) => truth.ms.set(tenant, (truth.ms.get(tenant) ?? 0) + ms);
  return tag({ tenant }, () => {
    add(timed(() => BURNERS[tenant](beforeMs)));
    if (io.style === 'promise') {
      return io.run().then(() => { add(timed(() => BURNERS[tenant](afterMs))); });
    }
    return new Promise<void>((resolve, reject) => {
      io.run((err) => {
        if (err) { reject(err); return; }
        add(timed(() => BURNERS[tenant](afterMs)));
        resolve();
      });
    });
  });
}

export interface Measured {
  /** Burn CPU (ns) sampled, by whose burn it was and whom it was billed to ('' = untagged). */
  burnCpu: Map<Tenant, Map<string, number>>;
  burnSamples: number;
  /** Every burn sample: whose burn it was, whom it was billed to, its CPU (ns): the weights behind the weighted bounds. */
  burnDraws: Array<{ owner: Tenant; billed: string; cpu: number }>;
  /** All CPU (ns) billed to each tenant, any stack, and the tagged samples behind it. */
  rowCpu: Map<string, number>;
  rowSamples: number;
  truth: Truth;
  windows: Array<{ profiles: TagsProfile[]; window: WindowInfo }>;
}

/**
 * Runs the service for `requests` requests with `concurrency` in flight under
 * a profiler on `engine`, and returns what the labelled pprof says.
 */
export async function runService(io: Io, engine: 'cped' | 'async-hooks', opts: { requests?: number; concurrency?: number; openers?: number } = {}): Promise<Measured> {
  const requests = opts.requests ?? 500;
  const concurrency = opts.concurrency ?? 16;
  const openers = opts.openers ?? 4;
  const windows: Measured['windows'] = [];
  const processor = Object.assign((profiles: TagsProfile[], window: WindowInfo) => { windows.push({ profiles, window }); }, { needs: { profile: true } });
  const profiler = newProfiler(processor, 0, 60_000, { samplingIntervalMicros: 1000, engine });
  const running = profiler.run();
  const truth: Truth = { ms: new Map() };
  try {
    // The first requests open the pool's connections.
    await Promise.all(Array.from({ length: openers }, () => request('opener', io, truth, 1, 1)));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests) {
        const i = next++;
        await request(MIX[i % MIX.length]!, io, truth, 1, 2);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await profiler.stop();
    await running;
  }
  const burnCpu = new Map<Tenant, Map<string, number>>();
  const rowCpu = new Map<string, number>();
  let burnSamples = 0;
  let rowSamples = 0;
  const burnDraws: Measured['burnDraws'] = [];
  for (const w of windows) {
    for (const p of w.window.profiles ?? []) {
      forEachSample(p as Profile, ({ cpu, labels, stack }: { cpu: number; labels: Record<string, string>; stack: string[] }) => {
        const billed = labels.tenant ?? '';
        if (billed !== '') { rowCpu.set(billed, (rowCpu.get(billed) ?? 0) + cpu); rowSamples++; }
        const owner = stack.map((f) => TENANT_OF_BURNER.get(f)).find((t) => t !== undefined);
        if (owner === undefined) return;
        const m = burnCpu.get(owner) ?? new Map<string, number>();
        m.set(billed, (m.get(billed) ?? 0) + cpu);
        burnCpu.set(owner, m);
        burnSamples++;
        burnDraws.push({ owner, billed, cpu });
      });
    }
  }
  return { burnCpu, burnSamples, burnDraws, rowCpu, rowSamples, truth, windows };
}

export interface Share {
  tenant: Tenant;
  truth: number;
  measured: number;
  /** 95% binomial bound, 1.96·√(p(1−p)/n), n the samples (as if every sample carried the same CPU). */
  bound: number;
}

/** A burn share with its standard error from the samples' own weights. */
export interface BurnShare extends Share {
  /** Delta-method (ratio estimator) standard error of `measured` from the samples' CPU weights. */
  weightedSe: number;
  /** 95% weighted bound: 1.96 · weightedSe. */
  weightedBound: number;
  /**
   * √(p(1−p)/Neff) at the timed share p, Neff the burn samples' Kish effective
   * count: the standard error if billing is right, which neither a wrong share
   * nor a tenant with few, light samples can shrink.
   */
  kishSeAtTruth: number;
  /** The tenant's share of burn samples (counts, not CPU). */
  countShare: number;
  /** Mean CPU of the tenant's burn samples over the mean CPU of all burn samples. */
  weightRatio: number;
}

export interface Verdict {
  /** Burn CPU billed to another tenant, over all burn CPU sampled. */
  misattributed: number;
  /** Burn CPU billed to its own tenant, over all burn CPU sampled. */
  attributed: number;
  /** Per tenant: share of burn CPU billed to it vs its timed share, and the 95% bounds. */
  shares: BurnShare[];
  /** Per tenant: its whole row (any stack) as a share of all tagged CPU vs its timed share. */
  rows: Share[];
  /** Largest |measured - truth| over the burn shares, and that tenant's bounds. */
  worst: { error: number; bound: number; weightedBound: number };
  /** The whole row of the tenant that opened the connections. */
  opener: Share | undefined;
  /** Samples under the burn functions (the `n` of the share bounds). */
  samples: number;
  /** Kish effective sample count of the burn samples, (Σw)²/Σw², w = each sample's CPU. */
  effectiveSamples: number;
  /** Untagged CPU over all CPU of the windows (`WindowInfo.untaggedCpu / totalCpu`): driver work nobody could be billed for, and the test's own. */
  untagged: number;
  report: string;
}

export const bound95 = (p: number, n: number): number => 1.96 * Math.sqrt((p * (1 - p)) / Math.max(n, 1));

/** Σw and the Kish effective sample count (Σw)²/Σw² of the burn samples, w = each sample's CPU. */
function kish(draws: Measured['burnDraws']): { sumW: number; effectiveSamples: number } {
  let sumW = 0;
  let sumW2 = 0;
  for (const d of draws) { sumW += d.cpu; sumW2 += d.cpu * d.cpu; }
  return { sumW, effectiveSamples: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0 };
}

/**
 * Standard error of a tenant's share of burn CPU, p̂ = Σ_{i∈t} w_i / Σ_i w_i,
 * from the samples' own CPU weights: the ratio estimator's delta-method
 * variance Σ_i w_i² (1[i∈t] − p̂)² / (Σ_i w_i)². With equal weights it is the
 * binomial p̂(1−p̂)/n; lumpy weights (a starved sampler thread's sample carrying
 * several periods of CPU) make it larger.
 */
export function weightedShareSe(draws: Measured['burnDraws'], tenant: string, share: number, sumW: number): number {
  if (!(sumW > 0)) return 0;
  let v = 0;
  for (const d of draws) {
    const r = (d.billed === tenant ? 1 : 0) - share;
    v += d.cpu * d.cpu * r * r;
  }
  return Math.sqrt(v) / sumW;
}

export function judge(m: Measured): Verdict {
  let total = 0;
  let own = 0;
  let other = 0;
  const billedTo = new Map<string, number>();
  for (const [owner, byBilled] of m.burnCpu) {
    for (const [billed, cpu] of byBilled) {
      total += cpu;
      if (billed === owner) own += cpu;
      else if (billed !== '') other += cpu;
      billedTo.set(billed, (billedTo.get(billed) ?? 0) + cpu);
    }
  }
  let truthTotal = 0;
  for (const v of m.truth.ms.values()) truthTotal += v;
  const tenants = [...m.truth.ms.keys()].sort();
  const { effectiveSamples, sumW } = kish(m.burnDraws);
  // Samples carrying more than two sampling periods (1 ms here): the sampler thread woke late.
  const lumps = { count: 0, cpu: 0, max: 0 };
  for (const d of m.burnDraws) {
    lumps.max = Math.max(lumps.max, d.cpu);
    if (d.cpu > 2e6) { lumps.count++; lumps.cpu += d.cpu; }
  }
  const shares = tenants.map((t): BurnShare => {
    const p = (m.truth.ms.get(t) ?? 0) / truthTotal;
    const measured = (billedTo.get(t) ?? 0) / total;
    const weightedSe = weightedShareSe(m.burnDraws, t, measured, sumW);
    const count = m.burnDraws.filter((d) => d.billed === t).length;
    const countShare = count / Math.max(m.burnDraws.length, 1);
    return {
      tenant: t, truth: p, measured, bound: bound95(p, m.burnSamples), weightedSe, weightedBound: 1.96 * weightedSe,
      kishSeAtTruth: Math.sqrt((p * (1 - p)) / Math.max(effectiveSamples, 1)),
      countShare, weightRatio: countShare > 0 ? measured / countShare : 0,
    };
  });
  let rowTotal = 0;
  for (const v of m.rowCpu.values()) rowTotal += v;
  const rows = tenants.map((t) => {
    const p = (m.truth.ms.get(t) ?? 0) / truthTotal;
    return { tenant: t, truth: p, measured: (m.rowCpu.get(t) ?? 0) / rowTotal, bound: bound95(p, m.rowSamples) };
  });
  let worst = { error: 0, bound: 0, weightedBound: 0 };
  for (const s of shares) {
    const e = Math.abs(s.measured - s.truth);
    if (e >= worst.error) worst = { error: e, bound: s.bound, weightedBound: s.weightedBound };
  }
  let untaggedCpu = 0;
  let allCpu = 0;
  for (const w of m.windows) { untaggedCpu += w.window.untaggedCpu; allCpu += w.window.totalCpu; }
  const untagged = allCpu > 0 ? untaggedCpu / allCpu : 0;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    `window: ${(allCpu / 1e6).toFixed(0)} ms of CPU, ${pct(untagged)} untagged (WindowInfo.untaggedCpu)`,
    `burn CPU sampled ${(total / 1e6).toFixed(0)} ms in ${m.burnSamples} samples (timed ${truthTotal.toFixed(0)} ms): attributed ${pct(own / total)}, misattributed ${pct(other / total)}, untagged ${pct((total - own - other) / total)}`,
    `  burn samples' effective count (Kish, (Σw)²/Σw², w = each sample's CPU): ${effectiveSamples.toFixed(0)} of ${m.burnSamples} (${(effectiveSamples / Math.max(m.burnSamples, 1)).toFixed(2)}); ${lumps.count} samples carry over 2 ms (${pct(lumps.cpu / Math.max(sumW, 1))} of the burn CPU), the largest ${(lumps.max / 1e6).toFixed(1)} ms`,
    ...shares.map((s) => `  burn share ${s.tenant}: truth ${pct(s.truth)} measured ${pct(s.measured)} (error ${pct(Math.abs(s.measured - s.truth))}, 95% bound binomial ${pct(s.bound)}, weighted ${pct(s.weightedBound)}; share of samples ${pct(s.countShare)}, CPU per sample ${s.weightRatio.toFixed(3)}x the mean)`),
    ...rows.map((s) => `  row ${s.tenant} (all its CPU): truth ${pct(s.truth)} measured ${pct(s.measured)} (error ${pct(Math.abs(s.measured - s.truth))}, 95% bound ${pct(s.bound)})`),
    `  burn CPU billed to: ${[...billedTo].map(([k, v]) => `${k || '(untagged)'} ${pct(v / total)}`).join(', ')}`,
  ];
  return { misattributed: other / total, attributed: own / total, shares, rows, worst, opener: rows.find((r) => r.tenant === 'opener'), untagged, samples: m.burnSamples, effectiveSamples, report: lines.join('\n') };
}

/**
 * How many weighted standard errors a share may be off. A CI run checks about
 * 40 tests x 3-4 tenants x 4 runtimes, some 600 shares; at 4.9 standard errors
 * a normal error exceeds it with probability 1e-6 per share, so a run with
 * every share billed right fails about once in 1 700 (at 4.4: once in 150).
 */
export const SHARE_Z = 4.9;

/**
 * The issue's bar: misattributed <= 1% and attributed >= 97% of the burn CPU
 * (judged per sample, exactly), every tenant's share within SHARE_Z weighted
 * standard errors of its timed share, and the openers' row not inflated.
 *
 * A share is a ratio of weighted sums: each sample carries the thread's CPU
 * since the sample before it, and when the sampler thread is starved (a loaded
 * 2-core machine) a few samples carry several periods, so the shares wander
 * further than the binomial bound, which assumes equal weights. The weighted
 * (delta-method) standard error follows the actual weights; the tolerance uses
 * the larger of it and √(p(1−p)/Neff) at the timed share, so that a share gone
 * wrong, or a small tenant that drew a few light samples (the openers: some
 * 8 samples), cannot narrow its own bound. The report prints both 95% bounds.
 */
export function assertFair(v: Verdict, _samples?: number): void {
  if (!(v.misattributed <= 0.01)) throw new Error(`misattributed ${(v.misattributed * 100).toFixed(2)}% > 1%\n${v.report}`);
  if (!(v.attributed >= 0.97)) throw new Error(`attributed ${(v.attributed * 100).toFixed(2)}% < 97%\n${v.report}`);
  for (const s of v.shares) {
    const tolerance = SHARE_Z * Math.max(s.weightedSe, s.kishSeAtTruth);
    if (Math.abs(s.measured - s.truth) > tolerance) {
      throw new Error(`tenant ${s.tenant}'s share is off by ${(100 * Math.abs(s.measured - s.truth)).toFixed(2)} points, more than ${SHARE_Z} weighted standard errors (${(100 * tolerance).toFixed(2)})\n${v.report}`);
    }
  }
  if (v.opener && v.opener.measured > v.opener.truth + 2 * v.opener.bound) throw new Error(`the connection openers' row is inflated\n${v.report}`);
}

/** One row of the per-driver table (grep `TABLE |` in the test output). */
export function tableRow(driver: string, style: string, engine: string, v: Verdict): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const run = `${driver} | ${style} | node ${process.versions.node} ${engine}`;
  return [
    `TABLE | ${run} | ${pct(v.misattributed)} | ${pct(v.attributed)} | ${pct(v.worst.error)} / ${pct(v.worst.bound)} binomial, ${pct(v.worst.weightedBound)} weighted | Neff/N ${(v.effectiveSamples / Math.max(v.samples, 1)).toFixed(2)} | opener row ${pct(v.opener?.measured ?? 0)} vs ${pct(v.opener?.truth ?? 0)} ± ${pct(v.opener?.bound ?? 0)} | untagged ${pct(v.untagged)}`,
    // One line per tenant, for collecting share errors over many runs (grep `SHARE |`):
    // signed error (measured − truth), binomial and weighted 95% bounds, Neff/N, share of samples, CPU per sample.
    ...v.shares.map((s) => `SHARE | ${run} | ${s.tenant} | ${(100 * s.truth).toFixed(3)} | ${(100 * (s.measured - s.truth)).toFixed(3)} | ${(100 * s.bound).toFixed(3)} | ${(100 * s.weightedBound).toFixed(3)} | ${(v.effectiveSamples / Math.max(v.samples, 1)).toFixed(3)} | ${(100 * s.countShare).toFixed(3)} | ${s.weightRatio.toFixed(4)} | ${v.samples}`),
  ].join('\n');
}
