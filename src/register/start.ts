/**
 * What `reqprof/register` does, built only from what a user could build by
 * hand: a profiler (`newProfiler`) with the processors the environment names,
 * and the request auto-tagging of `reqprof`'s integrations. Never throws: a
 * bad variable or a failure is one log line, and the app runs on unprofiled.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { autoTagRequests, ignoreServer, type AutoTagger } from '../integrations/routes/auto-tag.js';
import { bindDrivers } from '../bindings/index.js';
import { hookFrameworkModules } from '../integrations/routes/module-hooks.js';
import type { Logger } from '../logger.js';
import type { Profiler } from '../profiler.js';
import type { Processor } from '../types.js';
import { describeProblem, parseRegisterConfig, type RegisterConfig } from './config.js';
import { deliverOnSignals } from './signals.js';

/** How long a signal waits for the partial window to be delivered before the process ends anyway. */
const SIGNAL_FLUSH_TIMEOUT_MS = 5_000;

export interface Registered {
  readonly config: RegisterConfig;
  /** Resolves to the running profiler, or undefined when it could not be built. */
  readonly profiler: Promise<Profiler | undefined>;
  /** Stops tagging and the profiler (delivering the partial window). */
  stop(): Promise<void>;
}

/** Starts reqprof from `env`; undefined when disabled, misconfigured, or not on the main thread. */
export function startRegister(env: Readonly<Record<string, string | undefined>>, logger: Logger = syncStdoutLogger()): Registered | undefined {
  // Worker threads inherit --import through execArgv: the process's profiler lives on the main thread.
  if (!isMainThread) return undefined;
  const parsed = parseRegisterConfig(env);
  if (!parsed.ok) {
    for (const p of parsed.problems) logger.error({ variable: p.variable, value: p.value }, describeProblem(p));
    return undefined;
  }
  const config = parsed.config;
  if (!config.enabled) return undefined;
  let tagger: AutoTagger;
  try {
    // Before the app's own modules load: frameworks are hooked as they load, servers as they serve.
    hookFrameworkModules(config.headerTags);
    // Pooled connections never bill the request that opened them; callbacks carry their caller's tags.
    if (config.bindDrivers) bindDrivers();
    tagger = autoTagRequests({ headerTags: config.headerTags, logger });
  } catch (err) {
    logger.error({ err }, 'reqprof/register: could not install request tagging; the app runs without reqprof');
    return undefined;
  }
  let stopped = false;
  let closeDebug: (() => Promise<void>) | undefined;
  const profiler = new Promise<Profiler | undefined>((resolve) => {
    // After the app's first synchronous turn: loading the sampler does not delay its start.
    setImmediate(() => {
      buildProfiler(config, logger).then((p) => {
        if (p !== undefined && !stopped) {
          void p.run();
          if (config.debugPort !== undefined) void startDebugEndpoint(p, config, logger).then((close) => { closeDebug = close; });
        }
        resolve(p);
      }, (err: unknown) => {
        logger.error({ err }, 'reqprof/register: could not build the profiler; the app runs without reqprof');
        resolve(undefined);
      });
    });
  });
  const stop = async (): Promise<void> => {
    stopped = true;
    tagger.stop();
    removeSignals();
    await (await profiler)?.stop();
    await closeDebug?.();
  };
  const removeSignals = deliverOnSignals(stop, SIGNAL_FLUSH_TIMEOUT_MS);
  return { config, profiler, stop };
}

/**
 * reqprof's pino logger writing synchronously: the window delivered when the
 * process exits is logged from the 'exit' event, where an asynchronous write
 * still in flight is lost.
 */
function syncStdoutLogger(): Logger {
  let logger: Logger | undefined;
  // Made on first use: loading pino is not a cost of the app's start.
  const get = (): Logger => {
    if (logger === undefined) {
      const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
      logger = pino({ name: 'reqprof' }, pino.destination({ dest: 1, sync: true }));
    }
    return logger;
  };
  return {
    info: (o, m) => get().info(o, m),
    warn: (o, m) => get().warn(o, m),
    error: (o, m) => get().error(o, m),
  };
}

async function buildProfiler(config: RegisterConfig, logger: Logger): Promise<Profiler | undefined> {
  const processors: Processor[] = [];
  for (const name of config.processors) {
    switch (name) {
      case 'log': {
        const { createLogProcessor } = await import('../processors/log.js');
        processors.push(createLogProcessor(logger));
        break;
      }
      case 'prometheus': {
        let mod: typeof import('../processors/prometheus.js');
        try {
          mod = await import('../processors/prometheus.js');
        } catch (err) {
          logger.error({ err, variable: 'REQPROF_PROCESSORS' },
            'reqprof/register: REQPROF_PROCESSORS names prometheus, which needs prom-client (npm install prom-client); the app runs without reqprof');
          return undefined;
        }
        processors.push(mod.prometheusProcessor({ labels: ['method', 'route', ...config.headerTags.map((h) => h.tag)], logger }));
        break;
      }
      case 'pprof': {
        const { pprofProcessor } = await import('../processors/pprof.js');
        processors.push(pprofProcessor({ dir: config.pprofDir }));
        break;
      }
      case 'html': {
        const { htmlReportProcessor } = await import('../processors/html-report.js');
        processors.push(htmlReportProcessor({ file: config.reportFile }));
        break;
      }
    }
  }
  if (config.debugPort !== undefined) {
    // The debug endpoint serves the windows this recorder keeps.
    const { debugProcessor } = await import('../debug/recorder.js');
    processors.push(debugProcessor);
  }
  const { newProfiler } = await import('../profiler.js');
  return newProfiler(processors, config.intervalMs, config.windowMs, {
    samplingIntervalMicros: config.samplingIntervalMicros,
    logger,
  });
}

/**
 * Serves the debug endpoint (`REQPROF_DEBUG_PORT`) on its own server, whose
 * requests are never tagged as app traffic. Resolves to its `close`, or
 * undefined when the port could not be bound (logged; the app goes on).
 */
async function startDebugEndpoint(profiler: Profiler, config: RegisterConfig, logger: Logger): Promise<(() => Promise<void>) | undefined> {
  try {
    const { startDebugServer } = await import('../debug/server.js');
    const debug = await startDebugServer(profiler, { port: config.debugPort ?? 0, host: config.debugHost });
    ignoreServer(debug.server);
    logger.info({ url: debug.url }, `reqprof/register: debug endpoint on ${debug.url}/debug/reqprof/`);
    return debug.close;
  } catch (err) {
    logger.error({ err, variable: 'REQPROF_DEBUG_PORT' }, 'reqprof/register: could not start the debug endpoint; profiling goes on without it');
    return undefined;
  }
}
