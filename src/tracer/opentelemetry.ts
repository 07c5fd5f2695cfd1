import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import { optionTypeError } from '../errors.js';
import { CardinalityLimiter } from '../metrics/cardinality.js';
import { resolveLabelMapping, type LabelMapping, type LabelsOption } from '../metrics/label-names.js';
import { ATTRIBUTE_LIMIT_NAMES, resolveLimits, type AttributeLimitOptions } from '../metrics/limit-options.js';
import { overflowWarner } from '../metrics/overflow-warning.js';
import { splitGrpcMethod } from './grpc-status.js';
import type { RPCInfo, Tracer } from './types.js';

export interface OtelTracerOptions extends AttributeLimitOptions {
  /** The meter to create the histograms on, e.g. `metrics.getMeter('my-service')`. */
  meter: Meter;
  /** Request tags that become extra attributes: a list, or `{ attributeName: tagKey }`. A missing tag is left out. */
  tagAttributes?: LabelsOption;
}


/** The semantic conventions' advisory buckets for the HTTP request durations, in seconds. */
export const HTTP_DURATION_BUCKETS_S: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);

export const OTEL_TRACER_INSTRUMENTS = Object.freeze({
  rpcServer: 'rpc.server.duration',
  rpcClient: 'rpc.client.duration',
  httpServer: 'http.server.request.duration',
  httpClient: 'http.client.request.duration',
});

/** `error.type` per the HTTP conventions: the status code of a failed response (5xx; 4xx too for clients), else the error's name. */
function httpErrorType(info: RPCInfo): string | undefined {
  const s = info.status;
  if (s !== undefined && !info.aborted && (s >= 500 || (info.side === 'client' && s >= 400))) return String(s);
  if (info.error === undefined && !info.aborted) return undefined;
  const e = info.error as { code?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  if (typeof e?.name === 'string' && e.name !== '' && e.name !== 'Error') return e.name;
  return '_OTHER';
}

/** `host:port` → server.address and server.port. */
function serverAddress(host: string | undefined): { address?: string; port?: number } {
  if (host === undefined || host === '') return {};
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (m === null) return { address: host };
  return { address: m[1]!, ...(m[2] !== undefined ? { port: Number(m[2]) } : {}) };
}

/**
 * A tracer (give it to servers and clients with `withTracer`) that records
 * request durations on OpenTelemetry histograms, per the semantic conventions:
 *
 * - gRPC: `rpc.server.duration` / `rpc.client.duration`, unit `ms`, with
 *   `rpc.system` (`grpc`), `rpc.service`, `rpc.method` and
 *   `rpc.grpc.status_code`;
 * - HTTP: `http.server.request.duration` / `http.client.request.duration`,
 *   unit `s` (advisory buckets 5 ms to 10 s), with `http.request.method`,
 *   `url.scheme`, `http.route` (servers, when a route template matched),
 *   `http.response.status_code`, `server.address` / `server.port`
 *   (clients) and `error.type` when the request failed.
 *
 * Attribute values from requests are capped like the CPU processor's.
 */
export function otelTracer(options: OtelTracerOptions): Tracer {
  if (options === null || typeof options !== 'object') {
    throw optionTypeError(`reqprof: otelTracer(options): options must be an object with a "meter", got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as unknown as Record<string, unknown>;
  const meter = o['meter'] as Meter | undefined;
  if (meter === null || typeof meter !== 'object' || typeof meter.createHistogram !== 'function') {
    throw optionTypeError('reqprof: otelTracer option "meter" must be an OpenTelemetry Meter (from metrics.getMeter(name) or meterProvider.getMeter(name))');
  }
  const tags: LabelMapping | undefined = o['tagAttributes'] === undefined ? undefined : resolveLabelMapping('tagAttributes', o['tagAttributes'], () => undefined);
  const limits = resolveLimits(o, ATTRIBUTE_LIMIT_NAMES);
  const limiter = new CardinalityLimiter(limits, overflowWarner(o['logger'], 'attribute', limits.overflowValue, ATTRIBUTE_LIMIT_NAMES));

  const rpc = (name: string, side: string): Histogram => meter.createHistogram(name, {
    unit: 'ms',
    description: `Measures the duration of ${side} RPCs.`,
  });
  const http = (name: string, side: string): Histogram => meter.createHistogram(name, {
    unit: 's',
    description: `Duration of HTTP ${side} requests.`,
    advice: { explicitBucketBoundaries: [...HTTP_DURATION_BUCKETS_S] },
  });
  const instruments = {
    rpc: { server: rpc(OTEL_TRACER_INSTRUMENTS.rpcServer, 'inbound'), client: rpc(OTEL_TRACER_INSTRUMENTS.rpcClient, 'outbound') },
    http: { server: http(OTEL_TRACER_INSTRUMENTS.httpServer, 'server'), client: http(OTEL_TRACER_INSTRUMENTS.httpClient, 'client') },
  };

  /** Caps the free-form attributes (and the tag attributes) in place; missing ones are left out. */
  const bound = (info: RPCInfo, attributes: Attributes, free: Record<string, string | undefined>): Attributes => {
    const keys: string[] = [];
    const values: string[] = [];
    for (const [k, v] of Object.entries(free)) {
      keys.push(k);
      values.push(v ?? '');
    }
    if (tags !== undefined) {
      for (let i = 0; i < tags.names.length; i++) {
        keys.push(tags.names[i]!);
        values.push(info.tags?.get(tags.tagKeys[i]!) ?? '');
      }
    }
    const limited = limiter.limit(keys, values);
    for (let i = 0; i < keys.length; i++) if (limited[i] !== '') attributes[keys[i]!] = limited[i];
    return attributes;
  };

  return {
    finish(info: RPCInfo): void {
      const ns = Number((info.endTime ?? process.hrtime.bigint()) - info.startTime);
      if (info.protocol === 'grpc') {
        const [service, method] = splitGrpcMethod(info.method);
        const attributes: Attributes = { 'rpc.system': 'grpc' };
        if (info.status !== undefined) attributes['rpc.grpc.status_code'] = info.status;
        bound(info, attributes, { 'rpc.service': service, 'rpc.method': method, ...(info.side === 'client' ? { 'server.address': serverAddress(info.host).address } : {}) });
        instruments.rpc[info.side].record(ns / 1e6, attributes);
        return;
      }
      const attributes: Attributes = { 'http.request.method': info.httpMethod, 'url.scheme': info.scheme ?? 'http' };
      if (info.status !== undefined && !(info.aborted && info.side === 'client')) attributes['http.response.status_code'] = info.status;
      const errorType = httpErrorType(info);
      if (errorType !== undefined) attributes['error.type'] = errorType;
      if (info.side === 'server') {
        bound(info, attributes, { 'http.route': info.route });
      } else {
        const { address, port } = serverAddress(info.host);
        if (port !== undefined) attributes['server.port'] = port;
        bound(info, attributes, { 'server.address': address });
      }
      instruments.http[info.side].record(ns / 1e9, attributes);
    },
  };
}
