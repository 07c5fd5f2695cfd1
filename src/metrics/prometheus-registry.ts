import { register as defaultRegistry, type Registry } from 'prom-client';
import { optionTypeError } from '../errors.js';

/**
 * The `registry` option of the Prometheus processor and tracer: prom-client's
 * default `register` when absent. `owner` is the error's prefix before
 * `option "registry"` (empty for the processor, `prometheusTracer ` for the tracer).
 */
export function resolveRegistry(r: unknown, owner = ''): Registry {
  if (r === undefined) return defaultRegistry;
  const reg = r as Registry | null;
  if (reg === null || typeof reg !== 'object' || typeof reg.registerMetric !== 'function' || typeof reg.getSingleMetric !== 'function') {
    throw optionTypeError(`reqprof: ${owner}option "registry" must be a prom-client Registry, got ${r === null ? 'null' : typeof r}`);
  }
  return reg;
}
