import { createRequire } from 'node:module';

/** Whether AsyncContextFrame is active here (Node >= 24), asked of the addon like the profiler does. */
export function cpedAvailable(): boolean {
  const require = createRequire(import.meta.url);
  const acf = require('@datadog/pprof/out/src/async-context-frame.js') as { isAsyncContextFrameActive(): boolean };
  return acf.isAsyncContextFrameActive();
}

/** The engine paths this runtime can exercise: Node 24 runs both, Node 20 only async-hooks. */
export function enginesHere(): Array<'cped' | 'async-hooks'> {
  return cpedAvailable() ? ['cped', 'async-hooks'] : ['async-hooks'];
}

const major = Number(process.versions.node.split('.')[0]);

/**
 * The node flags that make a child process run `engine` on this runtime, whatever this process
 * runs: Node >= 24 has AsyncContextFrame unless `--no-async-context-frame`; Node 22 only with
 * `--experimental-async-context-frame`. Undefined where the path cannot run.
 */
export function engineFlags(engine: 'cped' | 'async-hooks'): string[] | undefined {
  if (major >= 24) return engine === 'cped' ? [] : ['--no-async-context-frame'];
  if (major === 22) return engine === 'cped' ? ['--experimental-async-context-frame'] : [];
  return engine === 'cped' ? undefined : [];
}

/** This process's environment for such a child: NODE_OPTIONS without an async-context-frame flag, so the child's own flags decide. */
export function childEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  const options = (env['NODE_OPTIONS'] ?? '').replace(/--(experimental-|no-)?async-context-frame\b/g, '').trim();
  if (options === '') delete env['NODE_OPTIONS'];
  else env['NODE_OPTIONS'] = options;
  return env;
}
