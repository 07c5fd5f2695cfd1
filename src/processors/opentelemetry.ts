import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { OVERFLOW_KEY } from '../tags.js';
import { optionRangeError, optionTypeError } from '../errors.js';
import { CardinalityLimiter } from '../metrics/cardinality.js';
import { resolveLabelMapping, type LabelMapping, type LabelsOption } from '../metrics/label-names.js';
import { ATTRIBUTE_LIMIT_NAMES, resolveLimits, type AttributeLimitOptions } from '../metrics/limit-options.js';
import { overflowWarner } from '../metrics/overflow-warning.js';
import { tagValues } from '../metrics/tag-values.js';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';

export { DEFAULT_OVERFLOW_VALUE } from '../metrics/cardinality.js';
export type { LabelsOption } from '../metrics/label-names.js';

export interface OtelProcessorOptions extends AttributeLimitOptions {
  /** The meter to create the instruments on, e.g. `metrics.getMeter('my-service')`. */
  meter: Meter;
  /**
   * Which tag keys become attributes: a list, or `{ attributeName: tagKey }`.
   * Default: every tag key, under its own name. With a list, tag keys not in it
   * are ignored (tag sets differing only in them are summed) and a missing key
   * is left out of the attributes.
   */
  attributes?: LabelsOption;
  /** Instrument name prefix (a dot is added). Default `reqprof`. */
  namespace?: string;
}

/** Lowercase, dot-separated namespace segments, as the OpenTelemetry semantic conventions write names. */
const NAMESPACE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** The instrument names a processor creates, derived from the namespace. */
export function otelInstrumentNames(namespace = 'reqprof') {
  return {
    cpuTime: `${namespace}.cpu.time`,
    cpuShare: `${namespace}.cpu.share`,
    samples: `${namespace}.cpu.samples`,
    windows: `${namespace}.windows`,
    requests: `${namespace}.requests`,
  };
}

/**
 * A processor that records each window's CPU per tag set on OpenTelemetry
 * instruments (attributes = tags):
 *
 * - `reqprof.cpu.time` Counter, unit `s`: CPU seconds per tag set;
 * - `reqprof.cpu.share` ObservableGauge, unit `1`: each tag set's share of the
 *   process's sampled CPU in the last window. A tag set absent from the last
 *   window is observed as 0 until the next window, then no longer observed;
 * - `reqprof.cpu.samples` Counter, unit `{sample}`: samples behind the figures;
 * - `reqprof.windows` Counter, unit `{window}`: profiling windows delivered;
 * - `reqprof.requests` Counter, unit `{request}`: requests finished per tag
 *   set, counted by the server integrations (CPU time / requests = CPU per request).
 *
 * Untagged CPU has no attributes. Attribute values are capped in number
 * (`maxValuesPerAttribute`, `maxAttributeSets`) so that a tag carrying user
 * input cannot create unbounded series.
 */
export function otelProcessor(options: OtelProcessorOptions): Processor {
  if (options === null || typeof options !== 'object') {
    throw optionTypeError(`reqprof: otelProcessor(options): options must be an object with a "meter", got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as unknown as Record<string, unknown>;
  const meter = o['meter'] as Meter | undefined;
  if (meter === null || typeof meter !== 'object' || typeof meter.createCounter !== 'function' || typeof meter.createObservableGauge !== 'function') {
    throw optionTypeError('reqprof: option "meter" must be an OpenTelemetry Meter (from metrics.getMeter(name) or meterProvider.getMeter(name))');
  }
  const mapping: LabelMapping | undefined = o['attributes'] === undefined
    ? undefined
    : resolveLabelMapping('attributes', o['attributes'], () => undefined);
  const namespace = o['namespace'] ?? 'reqprof';
  if (typeof namespace !== 'string') throw optionTypeError(`reqprof: option "namespace" must be a string, got ${namespace === null ? 'null' : typeof namespace}`);
  if (!NAMESPACE.test(namespace)) {
    throw optionRangeError(`reqprof: option "namespace" must be lowercase dot-separated words like "reqprof" or "acme.reqprof", got ${JSON.stringify(namespace)}`);
  }
  const limits = resolveLimits(o, ATTRIBUTE_LIMIT_NAMES);
  const limiter = new CardinalityLimiter(limits, overflowWarner(o['logger'], 'attribute', limits.overflowValue, ATTRIBUTE_LIMIT_NAMES));
  const names = otelInstrumentNames(namespace);

  const cpuTime = meter.createCounter(names.cpuTime, { unit: 's', description: 'CPU time used per request tag set, estimated by reqprof\'s sampling profiler.' });
  const samples = meter.createCounter(names.samples, { unit: '{sample}', description: 'CPU profile samples attributed to each request tag set.' });
  const windows = meter.createCounter(names.windows, { unit: '{window}', description: 'Profiling windows delivered to the reqprof OpenTelemetry processor.' });
  const requests = meter.createCounter(names.requests, { unit: '{request}', description: 'Requests finished per request tag set, counted by reqprof\'s server integrations.' });
  const cpuShare = meter.createObservableGauge(names.cpuShare, { unit: '1', description: 'Share (0 to 1) of the process\'s sampled CPU used by each request tag set in the last profiling window.' });

  // The last window's shares by attribute-set id; an observable gauge reports them
  // at collection time, however often the reader collects.
  let shares = new Map<string, { attributes: Attributes; share: number }>();
  cpuShare.addCallback((result: ObservableResult) => {
    for (const s of shares.values()) result.observe(s.share, s.attributes);
  });

  const attributesOf = (p: TagsProfile): Attributes => {
    let keys: readonly string[];
    let values: string[];
    if (mapping === undefined) {
      // Every tag is an attribute (the profiler's own overflow set stays reqprof_overflow=true).
      keys = p.tags.filter((_, i) => i % 2 === 0);
      values = limiter.limit(keys, p.tags.filter((_, i) => i % 2 === 1));
    } else {
      keys = mapping.names;
      values = p.key === OVERFLOW_KEY
        ? keys.map(() => limits.overflowValue)
        : limiter.limit(keys, tagValues(p.tags, mapping.tagKeys));
    }
    // A missing tag is left out, as OpenTelemetry treats absent and empty attributes differently.
    const attributes: Attributes = {};
    for (let i = 0; i < keys.length; i++) if (values[i] !== '') attributes[keys[i]!] = values[i];
    return attributes;
  };

  return function otelProcessor(profiles: TagsProfile[], window: WindowInfo): void {
    const next = new Map<string, { attributes: Attributes; share: number }>();
    for (const p of profiles) {
      const attributes = attributesOf(p);
      const id = JSON.stringify(Object.entries(attributes).sort());
      cpuTime.add(p.value / 1e9, attributes);
      samples.add(p.samples, attributes);
      if (p.requests) requests.add(p.requests, attributes);
      const s = next.get(id);
      if (s === undefined) next.set(id, { attributes, share: p.percent });
      else s.share += p.percent;
    }
    // A tag set that vanished is reported as 0 for one window, so a cumulative
    // backend does not keep showing its last non-zero share.
    for (const [id, s] of shares) {
      if (!next.has(id) && s.share !== 0) next.set(id, { attributes: s.attributes, share: 0 });
    }
    shares = next;
    windows.add(window.windows);
  };
}

export { otelTracer, HTTP_DURATION_BUCKETS_S, OTEL_TRACER_INSTRUMENTS, type OtelTracerOptions } from '../tracer/opentelemetry.js';
