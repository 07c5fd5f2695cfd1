/**
 * `TagsProfile.requests` in the processors: the Prometheus requests counter
 * (CPU per request is a PromQL division) and the log line's CPU per request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogProcessor } from '../../src/index.js';
import { prometheusProcessor } from '../../src/processors/prometheus.js';
import { MemoryLogger } from '../helpers/logger.js';
import { exposition } from '../helpers/tracer.js';
import { windowOf } from '../helpers/windows.js';

/** A window where /checkout used 300 ms for 60 requests, /health no samples for 40, and untagged CPU counted none. */
function window() {
  const w = windowOf([
    { tags: { route: '/checkout' }, cpuMs: 300, samples: 300 },
    { tags: { route: '/health' }, cpuMs: 0, samples: 0 },
    { tags: null, cpuMs: 100, samples: 100 },
  ]);
  const requests = [60, 40, 0];
  w.profiles.forEach((p, i) => (p.requests = requests[i]));
  return w;
}

test('the Prometheus processor counts requests per label combination in reqprof_requests_total, beside the CPU seconds', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route'], registry });
  const { profiles, window: info } = window();
  await proc(profiles, info);
  await proc(profiles, info);
  assert.deepEqual(await exposition(registry, 'reqprof_requests_total'), [
    'reqprof_requests_total{route="/checkout"} 120',
    'reqprof_requests_total{route="/health"} 80',
  ]);
  assert.match(await registry.metrics(), /^# TYPE reqprof_requests_total counter$/m);
  // CPU per request, as the README's PromQL divides them: 0.3 s / 60 = 5 ms.
  const cpu = await exposition(registry, 'reqprof_cpu_seconds_total');
  assert.ok(cpu.includes('reqprof_cpu_seconds_total{route="/checkout"} 0.6'));
});

test('the log processor shows each tag set\'s requests and CPU per request when they are counted', () => {
  const logger = new MemoryLogger();
  const { profiles, window: info } = window();
  createLogProcessor(logger)(profiles, info);
  const lines = logger.records.filter((r) => r.obj['reqprof'] === 'tags');
  const checkout = lines.find((r) => r.obj['key'] === 'route=/checkout')!;
  assert.equal(checkout.obj['requests'], 60);
  assert.equal(checkout.obj['cpuMsPerRequest'], 5);
  assert.match(checkout.msg!, /^reqprof: route=\/checkout: 75\.00% \(300 ms CPU, 300 samples, 60 requests, 5 ms CPU\/request\)$/);
  const health = lines.find((r) => r.obj['key'] === 'route=/health')!;
  assert.match(health.msg!, /\(0 ms CPU, 0 samples, 40 requests, 0 ms CPU\/request\)$/);
  const untagged = lines.find((r) => r.obj['key'] === 'type=default')!;
  assert.match(untagged.msg!, /, 0 requests\)$/);
  // Without counting, the line is as before.
  const plain = new MemoryLogger();
  const w = windowOf([{ tags: { route: '/a' }, cpuMs: 10, samples: 10 }]);
  createLogProcessor(plain)(w.profiles, w.window);
  assert.match(plain.records[1]!.msg!, /\(10 ms CPU, 10 samples\)$/);
});
