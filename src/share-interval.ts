/**
 * The one ± of reqprof: the half-width of the 95% interval of a CPU share.
 *
 * Derivation. In a window the sampler takes N busy samples (samples taken while
 * the JS thread ran code; `WindowInfo.busySamples`), each carrying about one
 * sampling period of CPU. Treat each as an independent draw of "which tag set
 * was running": a tag set with true CPU share p is drawn with probability p,
 * so its count k is Binomial(N, p) and its estimated share p̂ = k / N has
 *   E[p̂] = p,  Var[p̂] = p(1 − p) / N.
 * By the normal approximation the 95% interval is p̂ ± 1.96·√(p̂(1 − p̂) / N).
 *
 * N is the window's busy samples, not the tag set's own samples n = p̂N: using
 * n gives 1.96·√((1 − p̂) / N) / √p̂, too wide by 1/√p̂. Idle samples are not
 * part of N: their CPU is the small tail of the work before them, not a draw.
 *
 * Assumptions, and where it is off: samples carry similar CPU (a busy sample
 * right after an idle stretch carries less; unequal weights widen the true
 * interval slightly); draws are independent (a request much longer than the
 * sampling period is sampled in runs, which systematic sampling mostly makes
 * narrower, not wider); N·p̂ and N·(1 − p̂) are at least ~10 (with fewer, the
 * interval under-covers, and at p̂ = 0 it is 0). Checked by simulation in
 * test/statistics/share-interval.test.ts.
 */
export function shareMargin(share: number, busySamples: number): number {
  if (!(busySamples > 0) || !(share > 0) || !(share < 1)) return 0;
  return 1.96 * Math.sqrt((share * (1 - share)) / busySamples);
}
