import type { IncomingHttpHeaders } from 'node:http';
import { optionTypeError } from '../errors.js';
import { isLogger, type Logger } from '../logger.js';
import type { Profiler } from '../profiler.js';
import type { TagsInput } from '../tags.js';
import type { Tracer } from '../tracer/types.js';
import { describe } from '../util/check-option.js';

/**
 * What the transport stage knows about a request before its payload is read:
 * the counterpart of Kitex's TransInfo. One shape for every integration, so a
 * tagging function can be shared between an HTTP and a gRPC server.
 */
export interface TransportInfo {
  /** `http` for node:http, Express, Fastify and Koa; `grpc` for @grpc/grpc-js. */
  readonly protocol: 'http' | 'grpc';
  /** Which integration built this record. */
  readonly integration: 'http' | 'express' | 'fastify' | 'koa' | 'grpc';
  /** HTTP method (`GET`, `POST`...); for gRPC the full method path `/package.Service/Method`. */
  readonly method: string;
  /** URL path without the query string; for gRPC the full method path. */
  readonly path: string;
  /** The request target as received (path and query); for gRPC the full method path. */
  readonly url: string;
  /**
   * The route template when the framework has matched it before the body is
   * read (Fastify: `/users/:id`; gRPC: the full method path), else undefined
   * (node:http, Express and Koa match routes later, after the reqprof stages).
   */
  readonly route: string | undefined;
  /** Request headers (lower-case names); for gRPC the metadata's text entries (first value of each key). */
  readonly headers: Readonly<IncomingHttpHeaders> | Readonly<Record<string, string>>;
  /**
   * The framework's own request object: `IncomingMessage` (node:http), Express
   * `req`, `FastifyRequest`, Koa `ctx`, or the gRPC `Metadata`.
   */
  readonly raw: unknown;
}

/** Tags as a tagging function may return them: a flat `['k', 'v', ...]` list, an object, or nothing. */
export type TaggingResult = TagsInput | null | undefined | void;

/** Transport-stage tagging (Kitex `WithProfilerTransInfoTagging`): sees only what is known before the body. */
export type TransInfoTagging = (info: TransportInfo) => TaggingResult | Promise<TaggingResult>;

/** Message-stage tagging (Kitex `WithProfilerMessageTagging`): sees the decoded request. */
export type MessageTagging = (message: unknown, info: TransportInfo) => TaggingResult | Promise<TaggingResult>;

const kOption = Symbol('reqprof.serverOption');

/** What resolves options: a server integration, or a client hook (`traceHttpClients`, the gRPC client interceptor). */
export type OptionTarget = TransportInfo['integration'] | 'http-clients' | 'grpc-client';

/**
 * One option, made by a `with...` constructor and accepted by every server
 * integration (`reqprof/http`, `/express`, `/fastify`, `/koa`, `/grpc`);
 * `withTracer`, `withServiceName`, `withCallerHeader` and `withLogger` are
 * accepted by the client hooks too. Options that only one integration
 * understands say so in their name and are rejected by the others.
 */
export interface ServerOption {
  readonly [kOption]: true;
  /** The constructor that made it, for error messages. */
  readonly name: string;
  /** @internal */
  readonly apply: (target: HookOptions) => void;
  /** @internal set when only one integration accepts this option. */
  readonly integration?: OptionTarget;
  /** @internal set when client hooks reject this option (profiling and tagging are server-side). */
  readonly serverOnly?: true;
}

/**
 * The resolved options of one request hook: a server integration or a client
 * hook (`traceHttpClients`, the gRPC client interceptor). Clients use only the
 * tracing part (tracers, service name, caller header, logger).
 */
export interface HookOptions {
  profiler: Profiler | undefined;
  /** Transport-stage functions in run order: the one given last runs first (Kitex). */
  transInfoTagging: TransInfoTagging[];
  /** Message-stage functions in run order: the one given last runs first (Kitex). */
  messageTagging: MessageTagging[];
  logger: Logger | undefined;
  /** Tracers in registration order (`withTracer`). */
  tracers: Tracer[];
  /** This service's name (`withServiceName`): the callee on servers, the caller on clients. */
  serviceName: string | undefined;
  /** The header / metadata key that carries the caller's name (`withCallerHeader`): servers read it, clients send it. */
  callerHeader: string | undefined;
  /** Settings of integration-specific options (`withBodyDecoder`, `withBodyParser`...), by key. */
  readonly settings: Map<string, unknown>;
}

function option(name: string, apply: (o: HookOptions) => void, integration?: OptionTarget, serverOnly = false): ServerOption {
  return Object.freeze({ [kOption]: true as const, name, apply, ...(integration ? { integration } : {}), ...(serverOnly ? { serverOnly: true as const } : {}) });
}

/** @internal an option accepted by servers and client hooks alike (the tracer options). */
export function sharedOption(name: string, apply: (o: HookOptions) => void): ServerOption {
  return option(name, apply);
}

/** Structural check: integrations never load the sampler, so no `instanceof Profiler`. */
function isProfiler(x: unknown): x is Profiler {
  const p = x as Profiler | null;
  return p !== null && typeof p === 'object' && typeof p.run === 'function' && typeof p.stop === 'function' &&
    typeof p.state === 'string';
}

/**
 * The server profiles with `profiler` (Kitex `WithProfiler`). Tagging runs only
 * when a profiler is given. If the profiler was never started, the integration
 * starts it (`profiler.run()`) when it serves its first request, as a Kitex
 * server starts its profiler; stopping it (`await profiler.stop()`) is yours.
 */
export function withProfiler(profiler: Profiler): ServerOption {
  if (!isProfiler(profiler)) {
    throw optionTypeError(`reqprof: withProfiler(profiler): profiler must be a Profiler made by newProfiler(), got ${describe(profiler)}`);
  }
  return option('withProfiler', (o) => {
    o.profiler = profiler;
  }, undefined, true);
}

/**
 * Transport-stage tagging (Kitex `WithProfilerTransInfoTagging`): `fn` sees the
 * request before its body is read (method, path, headers; gRPC method and
 * metadata) and returns tags. Reading and decoding the body run with these
 * tags. Given more than once, every function runs, the one given last first,
 * and tags are listed in run order: on a duplicate key within the stage the
 * function given FIRST wins (later in the list wins, as in Kitex).
 */
export function withProfilerTransInfoTagging(fn: TransInfoTagging): ServerOption {
  if (typeof fn !== 'function') {
    throw optionTypeError(`reqprof: withProfilerTransInfoTagging(fn): fn must be a function (info) => tags, got ${describe(fn)}`);
  }
  return option('withProfilerTransInfoTagging', (o) => {
    o.transInfoTagging.unshift(fn);
  }, undefined, true);
}

/**
 * Message-stage tagging (Kitex `WithProfilerMessageTagging`): `fn` sees the
 * decoded request (the parsed body; the deserialized gRPC message) and returns
 * tags appended to the transport-stage tags (later wins on a duplicate key);
 * the handler runs with both. Composes like `withProfilerTransInfoTagging`.
 */
export function withProfilerMessageTagging(fn: MessageTagging): ServerOption {
  if (typeof fn !== 'function') {
    throw optionTypeError(`reqprof: withProfilerMessageTagging(fn): fn must be a function (message, info) => tags, got ${describe(fn)}`);
  }
  return option('withProfilerMessageTagging', (o) => {
    o.messageTagging.unshift(fn);
  }, undefined, true);
}

/** Where an integration logs its rate-limited warnings (default: reqprof's own pino logger). */
export function withLogger(logger: Logger): ServerOption {
  if (!isLogger(logger)) {
    throw optionTypeError(`reqprof: withLogger(logger): logger must be pino-compatible (info, warn and error methods), got ${describe(logger)}`);
  }
  return option('withLogger', (o) => {
    o.logger = logger;
  });
}

/** @internal an option only `integration` understands; its value lands in `settings` under `key`. */
export function integrationOption(integration: OptionTarget, name: string, key: string, value: unknown): ServerOption {
  return option(name, (o) => {
    o.settings.set(key, value);
  }, integration);
}

/** @internal validates and folds a list of options for the server integration or client hook `integration` (`where` names the call, for errors). */
export function resolveHookOptions(
  options: readonly unknown[],
  integration: OptionTarget,
  where: string,
): HookOptions {
  const o: HookOptions = {
    profiler: undefined,
    transInfoTagging: [],
    messageTagging: [],
    logger: undefined,
    tracers: [],
    serviceName: undefined,
    callerHeader: undefined,
    settings: new Map(),
  };
  const client = integration === 'http-clients' || integration === 'grpc-client';
  options.forEach((opt, i) => {
    if (opt === null || typeof opt !== 'object' || (opt as Partial<ServerOption>)[kOption] !== true) {
      throw optionTypeError(
        `reqprof: ${where}: argument ${i + 1} must be an option made by ` +
        (client ? 'withTracer, withServiceName, withCallerHeader or withLogger' : 'withProfiler, withProfilerTransInfoTagging, withProfilerMessageTagging, withTracer or another reqprof with... constructor') +
        `, got ${describe(opt)}`);
    }
    const so = opt as ServerOption;
    if (so.integration !== undefined && so.integration !== integration) {
      throw optionTypeError(`reqprof: ${where}: ${so.name}() is an option of reqprof/${so.integration}, not of reqprof/${integration}`);
    }
    if (client && so.serverOnly) {
      throw optionTypeError(`reqprof: ${where}: ${so.name}() is a server option; client hooks accept withTracer, withServiceName, withCallerHeader and withLogger`);
    }
    so.apply(o);
  });
  return o;
}
