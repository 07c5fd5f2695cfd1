// The example's routes and the CPU each request costs, in ms. The real-Prometheus
// test imports this table to know the CPU mix it should read back.
export const ROUTE_COST_MS = {
  '/api/checkout': 32,
  '/api/search': 16,
  '/api/profile': 8,
};

/** Spins until this thread has used `ms` of CPU (the process's CPU where per-thread time is not available). */
export function burnCpu(ms) {
  const now = typeof process.threadCpuUsage === 'function' ? () => process.threadCpuUsage() : () => process.cpuUsage();
  const start = now();
  const budget = ms * 1000;
  let x = 0;
  for (;;) {
    for (let i = 0; i < 2000; i++) x = (x * 31 + 7) % 1_000_003;
    const u = now();
    if (u.user + u.system - start.user - start.system >= budget) return x;
  }
}
