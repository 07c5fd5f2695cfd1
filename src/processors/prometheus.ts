import { Counter, Gauge, type Registry } from 'prom-client';
import { OVERFLOW_KEY } from '../tags.js';
import { optionRangeError, optionTypeError } from '../errors.js';
import { CardinalityLimiter } from '../metrics/cardinality.js';
import { checkPrometheusMetricName, prometheusLabelNameProblem, resolveLabelMapping, type LabelsOption } from '../metrics/label-names.js';
import { LABEL_LIMIT_NAMES, resolveLimits, type LabelLimitOptions } from '../metrics/limit-options.js';
import { resolveRegistry } from '../metrics/prometheus-registry.js';
import { overflowWarner } from '../metrics/overflow-warning.js';
import { tagValues } from '../metrics/tag-values.js';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';

export { DEFAULT_OVERFLOW_VALUE } from '../metrics/cardinality.js';
export type { LabelsOption } from '../metrics/label-names.js';

export interface PrometheusProcessorOptions extends LabelLimitOptions {
  /**
   * The tag keys that become labels (Prometheus needs a fixed set): a list
   * (`['route', 'caller']`), or `{ labelName: tagKey }` to rename a tag key
   * that is not a valid label name. A tag set missing a key gets `""` for it;
   * tag keys not listed are ignored, so tag sets that differ only in them are
   * summed into one series.
   */
  labels: LabelsOption;
  /** The prom-client registry to register on. Default: prom-client's default `register`. */
  registry?: Registry;
  /** Metric name prefix. Default `reqprof_` (giving `reqprof_cpu_seconds_total`...). */
  prefix?: string;
}


/** The metric names a processor registers, derived from the prefix. */
export function prometheusMetricNames(prefix = 'reqprof_') {
  return {
    cpuSeconds: `${prefix}cpu_seconds_total`,
    cpuShare: `${prefix}cpu_share_ratio`,
    samples: `${prefix}samples_total`,
    windows: `${prefix}windows_total`,
    requests: `${prefix}requests_total`,
  };
}

/**
 * A processor that exports each window's CPU per tag set as Prometheus metrics
 * on a prom-client registry (serve it on `/metrics` as usual):
 *
 * - `reqprof_cpu_seconds_total{<labels>}` counter: CPU seconds per label
 *   combination, so `sum by (route) (rate(reqprof_cpu_seconds_total[5m]))`
 *   is the CPU (in cores) each route uses, across the fleet;
 * - `reqprof_cpu_share_ratio{<labels>}` gauge: each combination's share of the
 *   process's sampled CPU in the last window. Combinations absent from the last
 *   window are removed, so a stale share never lingers;
 * - `reqprof_samples_total{<labels>}` counter: samples behind the figures;
 * - `reqprof_windows_total` counter: profiling windows delivered;
 * - `reqprof_requests_total{<labels>}` counter: requests that finished with
 *   each label combination, counted by the server integrations (`withProfiler`),
 *   so `rate(reqprof_cpu_seconds_total[5m]) / rate(reqprof_requests_total[5m])`
 *   is the CPU seconds per request.
 *
 * Untagged CPU has every label `""`; the profiler's own overflow tag set
 * (`maxTagSets`) has every label set to `overflowValue`. Label values are
 * capped in number (`maxValuesPerLabel`, `maxSeries`) so that a tag carrying
 * user input cannot grow the registry without bound.
 */
export function prometheusProcessor(options: PrometheusProcessorOptions): Processor {
  if (options === null || typeof options !== 'object') {
    throw optionTypeError(`reqprof: prometheusProcessor(options): options must be an object with a "labels" list, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as unknown as Record<string, unknown>;
  if (o['labels'] === undefined) {
    throw optionTypeError('reqprof: prometheusProcessor(options): option "labels" is required: the tag keys that become Prometheus labels, e.g. { labels: ["route"] }');
  }
  const mapping = resolveLabelMapping('labels', o['labels'], prometheusLabelNameProblem);
  const registry = resolveRegistry(o['registry']);
  const prefix = o['prefix'] ?? 'reqprof_';
  if (typeof prefix !== 'string') throw optionTypeError(`reqprof: option "prefix" must be a string, got ${prefix === null ? 'null' : typeof prefix}`);
  const names = prometheusMetricNames(prefix);
  for (const n of Object.values(names)) {
    checkPrometheusMetricName('prefix', n);
    if (registry.getSingleMetric(n) !== undefined) {
      throw optionRangeError(`reqprof: option "prefix": a metric named "${n}" is already registered on this registry (a second prometheusProcessor needs its own "prefix" or "registry")`);
    }
  }
  const limits = resolveLimits(o, LABEL_LIMIT_NAMES);
  const limiter = new CardinalityLimiter(limits, overflowWarner(o['logger'], 'label', limits.overflowValue, LABEL_LIMIT_NAMES));

  const labelNames = mapping.names;
  const registers = [registry];
  const labelled = { labelNames, registers };
  const cpuSeconds = new Counter({ name: names.cpuSeconds, ...labelled, help: 'CPU time used per request tag set, in seconds, estimated by reqprof\'s sampling profiler (untagged CPU has every label empty).' });
  const cpuShare = new Gauge({ name: names.cpuShare, ...labelled, help: 'Share (0 to 1) of the process\'s sampled CPU used by each request tag set in the last profiling window; tag sets absent from that window have no series.' });
  const samples = new Counter({ name: names.samples, ...labelled, help: 'CPU profile samples that ran each request tag set\'s code. A share p of a window\'s N samples is good to 95% within 1.96*sqrt(p*(1-p)/N), N the sum over all tag sets (fewer, the effective count, when samples carry unequal CPU).' });
  const windows = new Counter({ name: names.windows, registers, help: 'Profiling windows delivered to the reqprof Prometheus processor.' });
  const requests = new Counter({ name: names.requests, ...labelled, help: 'Requests finished per request tag set, counted by reqprof\'s server integrations (divide CPU seconds by it for the CPU per request).' });

  const overflowValues = labelNames.map(() => limits.overflowValue);
  const labelsOf = (p: TagsProfile): Record<string, string> => {
    const values = p.key === OVERFLOW_KEY ? overflowValues : limiter.limit(labelNames, tagValues(p.tags, mapping.tagKeys));
    const labels: Record<string, string> = {};
    for (let i = 0; i < labelNames.length; i++) labels[labelNames[i]!] = values[i]!;
    return labels;
  };

  return function prometheusProcessor(profiles: TagsProfile[], window: WindowInfo): void {
    // Tag sets that map to the same labels (undeclared keys, capped values) are summed first.
    const series = new Map<string, { labels: Record<string, string>; value: number; percent: number; samples: number; requests: number }>();
    for (const p of profiles) {
      const labels = labelsOf(p);
      const id = JSON.stringify(labels);
      const s = series.get(id);
      if (s === undefined) series.set(id, { labels, value: p.value, percent: p.percent, samples: p.samples, requests: p.requests ?? 0 });
      else {
        s.value += p.value;
        s.percent += p.percent;
        s.samples += p.samples;
        s.requests += p.requests ?? 0;
      }
    }
    // reset() and the sets below run in one synchronous turn: no scrape sees the gauge half-updated.
    cpuShare.reset();
    for (const s of series.values()) {
      cpuSeconds.inc(s.labels, s.value / 1e9);
      samples.inc(s.labels, s.samples);
      cpuShare.set(s.labels, s.percent);
      if (s.requests > 0) requests.inc(s.labels, s.requests);
    }
    windows.inc(window.windows);
  };
}

export {
  prometheusTracer,
  KITEX_LATENCY_BUCKETS_US,
  PROMETHEUS_DEFAULT_BUCKETS,
  PROMETHEUS_TRACER_METRICS,
  UNKNOWN_LABEL_VALUE,
  type PrometheusTracerOptions,
} from '../tracer/prometheus.js';
