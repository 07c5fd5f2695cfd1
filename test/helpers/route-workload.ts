/**
 * The workload the processor tests run through a real profiler: one worker per
 * route, each burning that route's CPU cost under tag({ route }) and yielding
 * between requests, with the burst CPU timed as ground truth.
 */
import { newProfiler, tag, type Processor } from '../../src/index.js';
import { GroundTruth, burn, sleep, timed } from './cpu.js';

export const ROUTE_COSTS_MS: Readonly<Record<string, number>> = { '/checkout': 6, '/search': 3, '/home': 1 };

/** Profiles the workload for `ms` at 1 kHz with 1 s windows, delivering to `processor`; returns the truth per route. */
export async function profileRouteWorkload(processor: Processor, ms = 3000, costs = ROUTE_COSTS_MS): Promise<GroundTruth> {
  const profiler = newProfiler(processor, 0, 1000, { samplingIntervalMicros: 1000 });
  const running = profiler.run();
  const truth = new GroundTruth();
  let stop = false;
  const worker = async (route: string) => {
    while (!stop) {
      await tag({ route }, async () => {
        truth.add(route, timed(() => burn(costs[route]!)));
        await sleep(1);
      });
    }
  };
  try {
    const workers = Object.keys(costs).map(worker);
    await sleep(ms);
    stop = true;
    await Promise.all(workers);
  } finally {
    await profiler.stop();
    await running;
  }
  return truth;
}
