// Load-generator child: autocannon's programmatic API at a fixed concurrency
// for a fixed number of requests (not a fixed duration), so every variant does
// exactly the same work. Latencies come from autocannon's per-response event
// (hrtime, fractional ms) rather than its integer-ms histogram.
import autocannon from 'autocannon';
import { sendReady, serve } from './harness.mjs';

/**
 * `run({ port, connections, amount, method, paths, body, headers })`: cycles
 * through `paths` (and matching `headers` variants, if a list), one request
 * after the other on each connection.
 */
function run({ port, connections, amount, method = 'GET', paths = ['/'], body, headerSets = [{}] }) {
  return new Promise((resolve, reject) => {
    const latencies = new Float64Array(amount + connections);
    let n = 0;
    let i = 0;
    let non2xx = 0;
    let lastAt = 0n;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const inst = autocannon({
      url: `http://127.0.0.1:${port}`,
      connections,
      amount,
      timeout: 30,
      requests: [{
        setupRequest: (req) => {
          const k = i++;
          return {
            ...req,
            method,
            path: paths[k % paths.length],
            headers: { 'content-type': 'application/json', ...headerSets[k % headerSets.length] },
            ...(body !== undefined ? { body } : {}),
          };
        },
      }],
    }, (err, result) => {
      if (err) return reject(err);
      // autocannon calls back on its next 1 s tick: the run ends at the last response.
      const seconds = Number(lastAt - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const lat = latencies.subarray(0, n).sort();
      const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
      resolve({
        responses: n,
        non2xx,
        errors: result.errors + result.timeouts,
        seconds,
        throughput: n / seconds,
        p50: q(0.5),
        p99: q(0.99),
        max: lat[lat.length - 1],
        loadCpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
      });
    });
    inst.on('response', (_client, status, _bytes, responseTime) => {
      if (status < 200 || status >= 300) non2xx++;
      if (n < latencies.length) latencies[n++] = responseTime;
      lastAt = process.hrtime.bigint();
    });
  });
}

serve({ run });
sendReady();
