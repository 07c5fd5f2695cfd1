import { Counter, Histogram, type Registry } from 'prom-client';
import { optionRangeError, optionTypeError } from '../errors.js';
import { CardinalityLimiter } from '../metrics/cardinality.js';
import { prometheusLabelNameProblem, resolveLabelMapping, type LabelMapping, type LabelsOption } from '../metrics/label-names.js';
import { LABEL_LIMIT_NAMES, resolveLimits, type LabelLimitOptions } from '../metrics/limit-options.js';
import { resolveRegistry } from '../metrics/prometheus-registry.js';
import { overflowWarner } from '../metrics/overflow-warning.js';
import { GRPC_OK, grpcCodeName, splitGrpcMethod } from './grpc-status.js';
import type { RPCInfo, Tracer } from './types.js';

/** kitex-contrib/monitor-prometheus's default latency buckets: 5 ms to 1 s, in microseconds. */
export const KITEX_LATENCY_BUCKETS_US: readonly number[] = Object.freeze([5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000]);
/** Prometheus's default buckets (client_golang `DefBuckets`, prom-client's default), in seconds: go-grpc-prometheus's. */
export const PROMETHEUS_DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** The label value for what the request does not say (no caller header, no route), as the Kitex tracers write it. */
export const UNKNOWN_LABEL_VALUE = 'unknown';

export interface PrometheusTracerOptions extends LabelLimitOptions {
  /**
   * Metric names and labels:
   * - `kitex` (default): kitex-contrib/monitor-prometheus's
   *   `kitex_server_throughput` / `kitex_client_throughput` counters and
   *   `kitex_server_latency_us` / `kitex_client_latency_us` histograms
   *   (microseconds), labels `type`, `caller`, `callee`, `method`, `status`;
   *   every HTTP and gRPC request.
   * - `grpc`: go-grpc-prometheus's `grpc_server_*` / `grpc_client_*`
   *   (started, handled with `grpc_code`, messages received and sent, the
   *   opt-in handling-seconds histogram), labels `grpc_type`,
   *   `grpc_service`, `grpc_method`; gRPC calls only (HTTP requests are not
   *   recorded).
   */
  style?: 'kitex' | 'grpc';
  /** The prom-client registry. Default: prom-client's default `register`. */
  registry?: Registry;
  /** Histogram buckets: microseconds for `kitex` (default 5000 ... 1000000), seconds for `grpc` (default 0.005 ... 10). */
  buckets?: readonly number[];
  /** `grpc` style: also record `grpc_server_handling_seconds` / `grpc_client_handling_seconds` (off by default, as in go-grpc-prometheus). */
  handlingTimeHistogram?: boolean;
  /** `kitex` style: add a `code` label (the HTTP status, or the gRPC code name such as `NotFound`). Default false. */
  codeLabel?: boolean;
  /**
   * Request tags that become extra labels, e.g. `['tenant']` or
   * `{ tenant: 'x-tenant' }` (label name → tag key); a request without the tag
   * gets `""`. Tags exist where the server runs `withProfiler` (client calls
   * carry the tags of the request that made them). A server knows a call's
   * tags only as it serves it: with `tagLabels`, the `grpc` style writes all
   * of a server call's series (started, messages, handled) when it finishes.
   */
  tagLabels?: LabelsOption;
}


/** The metric names of each style. */
export const PROMETHEUS_TRACER_METRICS = Object.freeze({
  kitex: Object.freeze({
    serverThroughput: 'kitex_server_throughput',
    serverLatency: 'kitex_server_latency_us',
    clientThroughput: 'kitex_client_throughput',
    clientLatency: 'kitex_client_latency_us',
  }),
  grpc: Object.freeze({
    serverStarted: 'grpc_server_started_total',
    serverHandled: 'grpc_server_handled_total',
    serverMsgReceived: 'grpc_server_msg_received_total',
    serverMsgSent: 'grpc_server_msg_sent_total',
    serverHandling: 'grpc_server_handling_seconds',
    clientStarted: 'grpc_client_started_total',
    clientHandled: 'grpc_client_handled_total',
    clientMsgReceived: 'grpc_client_msg_received_total',
    clientMsgSent: 'grpc_client_msg_sent_total',
    clientHandling: 'grpc_client_handling_seconds',
  }),
});

/**
 * Metrics this module made, per registry: a second tracer (say one for the
 * server and one for the clients, as Kitex makes them) shares them rather
 * than failing on a duplicate name.
 */
const made = new WeakMap<Registry, Map<string, { metric: Counter<string> | Histogram<string>; signature: string }>>();

function metric<M extends Counter<string> | Histogram<string>>(
  registry: Registry,
  kind: 'counter' | 'histogram',
  name: string,
  help: string,
  labelNames: readonly string[],
  buckets?: readonly number[],
): M {
  const signature = `${kind}|${labelNames.join(',')}|${buckets?.join(',') ?? ''}`;
  let mine = made.get(registry);
  const existing = mine?.get(name);
  if (existing !== undefined) {
    if (existing.signature !== signature) {
      throw optionRangeError(`reqprof: prometheusTracer(options): "${name}" is already registered on this registry by another prometheusTracer with other labels or buckets; give this one its own "registry"`);
    }
    return existing.metric as M;
  }
  if (registry.getSingleMetric(name) !== undefined) {
    throw optionRangeError(`reqprof: prometheusTracer(options): a metric named "${name}" is already registered on this registry (not by reqprof); give the tracer its own "registry"`);
  }
  const config = { name, help, labelNames: [...labelNames], registers: [registry] };
  const m = (kind === 'counter' ? new Counter(config) : new Histogram({ ...config, buckets: [...buckets!] })) as M;
  if (mine === undefined) made.set(registry, (mine = new Map()));
  mine.set(name, { metric: m, signature });
  return m;
}

function checkBuckets(v: unknown): readonly number[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) throw optionTypeError('reqprof: prometheusTracer option "buckets" must be a non-empty array of increasing finite numbers');
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || !Number.isFinite(v[i]) || (i > 0 && v[i] <= v[i - 1])) {
      throw optionRangeError(`reqprof: prometheusTracer option "buckets" must be increasing finite numbers; entry ${i} is ${String(v[i])}`);
    }
  }
  return v as number[];
}

function bool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw optionTypeError(`reqprof: prometheusTracer option "${name}" must be a boolean, got ${v === null ? 'null' : typeof v}`);
  return v;
}

/** `status` of the Kitex labels: an error, an abort, an HTTP 5xx, a non-OK gRPC code, or no status at all. */
export function failed(info: RPCInfo): boolean {
  if (info.error !== undefined || info.aborted || info.status === undefined) return true;
  return info.protocol === 'grpc' ? info.status !== GRPC_OK : info.status >= 500;
}

/**
 * The same labels with their names in sorted order: prom-client writes them
 * in object order, and Go's client (which made the dashboards' examples) sorts
 * them, so the exposition lines read the same.
 */
function sorted(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/** Nanoseconds from start to finish as a float of `unit` (1e3: microseconds, 1e9: seconds). */
function elapsed(info: RPCInfo, unitNs: number): number {
  return Number((info.endTime ?? process.hrtime.bigint()) - info.startTime) / unitNs;
}

/**
 * A tracer (give it to servers and clients with `withTracer`) that records
 * request metrics on a prom-client registry, in Kitex's or go-grpc-prometheus's
 * names (`style`). One tracer serves both sides: server requests go to the
 * `*_server_*` metrics, client calls to `*_client_*`.
 *
 * Label values that come from requests (caller, callee, method, service,
 * tags) are capped like the CPU processor's (`maxValuesPerLabel`,
 * `maxSeries`, `maxValueLength`), so user input cannot grow the registry
 * without bound; a value the request does not carry is `unknown`.
 */
export function prometheusTracer(options: PrometheusTracerOptions = {}): Tracer {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionTypeError(`reqprof: prometheusTracer(options): options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as Record<string, unknown>;
  const style = o['style'] ?? 'kitex';
  if (style !== 'kitex' && style !== 'grpc') {
    throw optionRangeError(`reqprof: prometheusTracer option "style" must be "kitex" or "grpc", got ${JSON.stringify(style)}`);
  }
  const registry = resolveRegistry(o['registry'], 'prometheusTracer ');
  const buckets = checkBuckets(o['buckets']);
  const histogram = bool('handlingTimeHistogram', o['handlingTimeHistogram']);
  const codeLabel = bool('codeLabel', o['codeLabel']);
  const reserved = style === 'kitex' ? ['type', 'caller', 'callee', 'method', 'status', ...(codeLabel ? ['code'] : [])] : ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code', 'le'];
  if (style === 'kitex') reserved.push('le');
  const tagLabels: LabelMapping | undefined = o['tagLabels'] === undefined ? undefined : resolveLabelMapping('tagLabels', o['tagLabels'], prometheusLabelNameProblem);
  for (const n of tagLabels?.names ?? []) {
    if (reserved.includes(n)) throw optionRangeError(`reqprof: prometheusTracer option "tagLabels": label name "${n}" is one of the tracer's own labels (${reserved.join(', ')}); map the tag to another name`);
  }
  const limits = resolveLimits(o, LABEL_LIMIT_NAMES);
  const limiter = new CardinalityLimiter(limits, overflowWarner(o['logger'], 'label', limits.overflowValue, LABEL_LIMIT_NAMES));
  const args: TracerArgs = { registry, limiter, tagLabels };
  return style === 'kitex'
    ? kitexTracer(args, buckets ?? KITEX_LATENCY_BUCKETS_US, codeLabel)
    : grpcTracer(args, buckets ?? PROMETHEUS_DEFAULT_BUCKETS, histogram);
}

interface TracerArgs {
  registry: Registry;
  limiter: CardinalityLimiter;
  tagLabels: LabelMapping | undefined;
}

/**
 * Caps the free-form values (`names` / `values` aligned), the request's tag
 * labels appended, and writes them into `labels`. Values the request lacks
 * are `unknown`; missing tags are `""`.
 */
function boundedLabels(args: TracerArgs, info: RPCInfo, names: readonly string[], values: Array<string | undefined>, labels: Record<string, string>): void {
  const keys = names.slice();
  const raw = values.map((v) => (v === undefined || v === '' ? UNKNOWN_LABEL_VALUE : v));
  const t = args.tagLabels;
  if (t !== undefined) {
    for (let i = 0; i < t.names.length; i++) {
      keys.push(t.names[i]!);
      raw.push(info.tags?.get(t.tagKeys[i]!) ?? '');
    }
  }
  const limited = args.limiter.limit(keys, raw);
  for (let i = 0; i < keys.length; i++) labels[keys[i]!] = limited[i]!;
}

function kitexTracer(args: TracerArgs, buckets: readonly number[], codeLabel: boolean): Tracer {
  const names = PROMETHEUS_TRACER_METRICS.kitex;
  const labelNames = ['type', 'caller', 'callee', 'method', 'status', ...(codeLabel ? ['code'] : []), ...(args.tagLabels?.names ?? [])];
  const { registry } = args;
  const serverThroughput = metric<Counter<string>>(registry, 'counter', names.serverThroughput, 'Total number of RPCs completed by the server, regardless of success or failure.', labelNames);
  const serverLatency = metric<Histogram<string>>(registry, 'histogram', names.serverLatency, 'Latency (microseconds) of RPC that had been application-level handled by the server.', labelNames, buckets);
  const clientThroughput = metric<Counter<string>>(registry, 'counter', names.clientThroughput, 'Total number of RPCs completed by the client, regardless of success or failure.', labelNames);
  const clientLatency = metric<Histogram<string>>(registry, 'histogram', names.clientLatency, 'Latency (microseconds) of the RPC until it is finished.', labelNames, buckets);

  return {
    finish(info: RPCInfo): void {
      const labels: Record<string, string> = {
        // Kitex's interaction modes: a request and its response, or a stream.
        type: info.callType === 'unary' ? 'pingpong' : 'streaming',
        status: failed(info) ? 'error' : 'succeed',
      };
      if (codeLabel) labels['code'] = info.status === undefined ? UNKNOWN_LABEL_VALUE : info.protocol === 'grpc' ? grpcCodeName(info.status) : String(info.status);
      // gRPC: the method's own name (the service is the callee); HTTP: `GET /users/:id`.
      const method = info.protocol === 'grpc' ? splitGrpcMethod(info.method)[1] : `${info.httpMethod} ${info.method}`;
      boundedLabels(args, info, ['caller', 'callee', 'method'], [info.caller, info.callee, method], labels);
      const l = sorted(labels);
      // Whole microseconds, as Kitex's Duration.Microseconds().
      const us = Math.trunc(elapsed(info, 1e3));
      if (info.side === 'server') {
        serverThroughput.inc(l);
        serverLatency.observe(l, us);
      } else {
        clientThroughput.inc(l);
        clientLatency.observe(l, us);
      }
    },
  };
}

function grpcTracer(args: TracerArgs, buckets: readonly number[], histogram: boolean): Tracer {
  const n = PROMETHEUS_TRACER_METRICS.grpc;
  const base = ['grpc_type', 'grpc_service', 'grpc_method', ...(args.tagLabels?.names ?? [])];
  const handledNames = ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code', ...(args.tagLabels?.names ?? [])];
  const { registry } = args;
  const side = (s: 'server' | 'client') => {
    const server = s === 'server';
    return {
      started: metric<Counter<string>>(registry, 'counter', server ? n.serverStarted : n.clientStarted, server ? 'Total number of RPCs started on the server.' : 'Total number of RPCs started on the client.', base),
      handled: metric<Counter<string>>(registry, 'counter', server ? n.serverHandled : n.clientHandled, server ? 'Total number of RPCs completed on the server, regardless of success or failure.' : 'Total number of RPCs completed by the client, regardless of success or failure.', handledNames),
      received: metric<Counter<string>>(registry, 'counter', server ? n.serverMsgReceived : n.clientMsgReceived, server ? 'Total number of RPC stream messages received on the server.' : 'Total number of RPC stream messages received by the client.', base),
      sent: metric<Counter<string>>(registry, 'counter', server ? n.serverMsgSent : n.clientMsgSent, server ? 'Total number of gRPC stream messages sent by the server.' : 'Total number of gRPC stream messages sent by the client.', base),
      handling: histogram
        ? metric<Histogram<string>>(registry, 'histogram', server ? n.serverHandling : n.clientHandling, server ? 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.' : 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.', base, buckets)
        : undefined,
    };
  };
  const metrics = { server: side('server'), client: side('client') };
  // The call's labels, computed once (the limiter admits each combination once).
  const callLabels = new WeakMap<RPCInfo, Record<string, string>>();
  const labelsOf = (info: RPCInfo): Record<string, string> => {
    let labels = callLabels.get(info);
    if (labels === undefined) {
      labels = { grpc_type: info.callType };
      const [service, method] = splitGrpcMethod(info.method);
      boundedLabels(args, info, ['grpc_service', 'grpc_method'], [service, method], labels);
      labels = sorted(labels);
      callLabels.set(info, labels);
    }
    return labels;
  };
  // A server learns a call's tags as it serves it (transport, then message
  // stage): the record carries them from `finish` on. With tag labels, every
  // series of a server call is written then, so started, messages and handled
  // carry the same tag values (a client call's tags are its caller's, known at start).
  const atFinish = (info: RPCInfo): boolean => args.tagLabels !== undefined && info.side === 'server';

  return {
    start(info: RPCInfo): void {
      if (info.protocol !== 'grpc' || atFinish(info)) return;
      metrics[info.side].started.inc(labelsOf(info));
    },
    message(info: RPCInfo, direction: 'sent' | 'received'): void {
      if (info.protocol !== 'grpc' || atFinish(info)) return;
      const m = metrics[info.side];
      (direction === 'sent' ? m.sent : m.received).inc(labelsOf(info));
    },
    finish(info: RPCInfo): void {
      if (info.protocol !== 'grpc') return;
      const m = metrics[info.side];
      const labels = labelsOf(info);
      if (atFinish(info)) {
        m.started.inc(labels);
        if (info.messagesReceived > 0) m.received.inc(labels, info.messagesReceived);
        if (info.messagesSent > 0) m.sent.inc(labels, info.messagesSent);
      }
      m.handled.inc(sorted({ ...labels, grpc_code: grpcCodeName(info.status) }));
      m.handling?.observe(labels, elapsed(info, 1e9));
    },
  };
}
