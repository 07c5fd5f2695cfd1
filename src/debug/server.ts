import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { optionRangeError, optionTypeError } from '../errors.js';
import type { Profiler } from '../profiler.js';
import { debugHandler, type MetricsRegistry } from './handler.js';
import type { DebugRecorder } from './recorder.js';

export interface DebugServerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default `127.0.0.1`: the endpoint shows request tags and code, keep it off public interfaces. */
  host?: string;
  /** What `/metrics` serves (default prom-client's default registry); `false`: no `/metrics`. */
  registry?: MetricsRegistry | false;
  /** Where the windows come from. Default `debugProcessor`. */
  recorder?: DebugRecorder;
}

/** A started debug server. */
export interface DebugServer {
  readonly server: Server;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes idle connections. */
  close(): Promise<void>;
}

const debugServers = new WeakSet<object>();

/**
 * Whether `server` is a reqprof debug server: automatic request tagging
 * (`reqprof/register`) must leave its requests alone.
 */
export function isDebugServer(server: unknown): boolean {
  return typeof server === 'object' && server !== null && debugServers.has(server);
}

/**
 * Serves `debugHandler(profiler)` on its own HTTP server, on loopback unless
 * `host` says otherwise. The server does not keep the process alive on its own.
 * Rejects when the port cannot be bound (in use, no permission).
 */
export function startDebugServer(profiler: Profiler, options: DebugServerOptions): Promise<DebugServer> {
  if (options === null || typeof options !== 'object') throw optionTypeError('reqprof: startDebugServer(profiler, options): options must be an object with a port');
  const { port, host = '127.0.0.1' } = options;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw optionRangeError(`reqprof: startDebugServer option "port" must be an integer from 0 to 65535, got ${String(port)}`);
  }
  if (typeof host !== 'string' || host === '') throw optionTypeError(`reqprof: startDebugServer option "host" must be a non-empty string, got ${String(host)}`);
  const handler = debugHandler(profiler, {
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
    ...(options.recorder !== undefined ? { recorder: options.recorder } : {}),
  });
  const server = createServer(handler);
  debugServers.add(server);
  // A scraper that keeps connections open must not hold the process (or server.close) up.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', () => {}); // errors after listening (a reset socket) must never crash the app
      server.unref();
      const bound = (server.address() as AddressInfo).port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        url: `http://${shownHost}:${bound}`,
        port: bound,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        }),
      });
    });
  });
}
