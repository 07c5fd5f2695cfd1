/**
 * The one ± of reqprof: the half-width of the 95% interval of a CPU share.
 *
 * Derivation. In a window the sampler takes N busy samples (samples taken while
 * the JS thread ran code; `WindowInfo.busySamples`); sample i carries w_i, the
 * thread's CPU since the sample before it. A tag set's share is a ratio of
 * weighted sums, p̂ = Σ_{i∈t} w_i / Σ_i w_i. Treat each sample as an
 * independent draw of "which tag set was running", drawn with probability p
 * (the true CPU share). The ratio estimator's (delta-method) variance is
 *   Var[p̂] ≈ Σ_i w_i² (1[i∈t] − p)² / (Σ_i w_i)²,
 * whose expectation, with the draws independent of the weights, is
 *   p(1 − p) · Σw² / (Σw)² = p(1 − p) / Neff,   Neff = (Σw)² / Σw²
 * (Kish's effective sample size; Neff = N when every sample carries the same
 * CPU, less when a few carry much more, e.g. a starved sampler thread's sample
 * carrying several periods). By the normal approximation the 95% interval is
 * p̂ ± 1.96·√(p̂(1 − p̂) / Neff); `WindowInfo.effectiveSamples` is Neff.
 * With equal weights this is the binomial p̂(1 − p̂)/N.
 *
 * N is the window's busy samples, not the tag set's own samples n = p̂N: using
 * n gives 1.96·√((1 − p̂) / N) / √p̂, too wide by 1/√p̂. Idle samples are not
 * part of N: their CPU is the small tail of the work before them, not a draw.
 *
 * Assumptions, and where it is off: draws are independent (a request much
 * longer than the sampling period is sampled in runs, which systematic
 * sampling mostly makes narrower, not wider); N·p̂ and N·(1 − p̂) are at least
 * ~10 (with fewer, the interval under-covers, and at p̂ = 0 it is 0). Checked
 * by simulation in test/statistics/share-interval.test.ts.
 */
export function shareMargin(share: number, samples: number): number {
  if (!(samples > 0) || !(share > 0) || !(share < 1)) return 0;
  return 1.96 * Math.sqrt((share * (1 - share)) / samples);
}

/** Busy samples of the JS thread with the sum and the sum of squares of their CPU. */
export interface SampleWeights {
  samples: number;
  sum: number;
  squares: number;
}

/**
 * Kish's effective sample count of `busySamples`, (Σw)² / Σw², from the
 * weights of the JS thread's busy samples. Samples of worker threads (counted
 * in `busySamples`, their weights unknown here) are taken to be as lumpy as
 * the JS thread's: the count is `busySamples` times the JS thread's Neff / N.
 * Without weights (no CPU time recorded) it is `busySamples`.
 */
export function effectiveSampleCount(busySamples: number, weights: SampleWeights | undefined): number {
  if (weights === undefined || !(weights.samples > 0) || !(weights.squares > 0)) return busySamples;
  return busySamples * (weights.sum * weights.sum) / (weights.squares * weights.samples);
}
