/**
 * Load hooks for what the HTTP server alone does not show: Koa's context (where
 * @koa/router leaves the route), @grpc/grpc-js servers (not node:http
 * servers; their method path tags each call) and piscina pools (tasks carry
 * their caller's tags to the worker). `require-in-the-middle` for
 * CommonJS `require`, `import-in-the-middle` for ES `import` (an ESM loader
 * hook, registered with `module.register`, limited to those packages). Both
 * are the hooks OpenTelemetry and dd-trace load their instrumentations with;
 * reqprof only patches a class prototype through them, never an export.
 *
 * Installed only when the app can resolve such a framework from its working
 * directory, so an app without them pays nothing at start.
 */
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { HeaderTag } from './auto-tag.js';
import { instrumentGrpc } from './grpc-method.js';
import { instrumentKoa } from './koa-route.js';
import { profileWorkers } from '../../workers/hub.js';
import { instrumentPiscinaClass } from '../../workers/piscina.js';

const require = createRequire(import.meta.url);

/** Packages hooked, with what to do with their exports once loaded. */
function hooked(headerTags: readonly HeaderTag[]): Array<{ name: string; instrument: (exports: unknown) => void }> {
  return [
    { name: 'koa', instrument: (koa) => instrumentKoa(isClass(koa) ? koa : (koa as { default?: unknown }).default) },
    { name: '@grpc/grpc-js', instrument: (grpc) => instrumentGrpc((grpc as { Server?: unknown }).Server ? grpc : (grpc as { default?: unknown }).default, headerTags) },
    // piscina pools carry each task's caller tags to the worker, whose CPU joins the main windows.
    { name: 'piscina', instrument: (mod) => {
      const Piscina = piscinaClassOf(mod);
      if (Piscina === undefined) return;
      profileWorkers();
      instrumentPiscinaClass(Piscina);
    } },
  ];
}

/** The Piscina class among a module's exports (CommonJS `module.exports`, its `Piscina` or `default`). */
function piscinaClassOf(mod: unknown): unknown {
  const m = mod as { Piscina?: unknown; default?: { Piscina?: unknown } } | undefined;
  for (const c of [m?.Piscina, m, m?.default, m?.default?.Piscina]) {
    if (typeof c === 'function' && typeof (c as { prototype?: { run?: unknown } }).prototype?.run === 'function') return c;
  }
  return undefined;
}

function isClass(x: unknown): boolean {
  return typeof x === 'function';
}

/** Whether `name` resolves from the app's working directory. */
function resolvable(name: string): boolean {
  try {
    createRequire(pathToFileURL(process.cwd() + '/').href).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The ESM side: in-thread (`module.registerHooks`) where this Node runs
 * import-in-the-middle's synchronous loader, else its loader thread
 * (`module.register`), which costs more at start (a worker thread).
 */
function registerImportHook(include: string[]): void {
  const { supportsSyncHooks } = require('import-in-the-middle/supports-sync-hooks.mjs') as { supportsSyncHooks(): boolean };
  if (supportsSyncHooks()) {
    const sync = require('import-in-the-middle/register-hooks.mjs') as { register(o: { include: string[] }): void };
    sync.register({ include });
  } else {
    register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
  }
}

/** Installs the load hooks for every hooked framework the app has; returns their names. */
export function hookFrameworkModules(headerTags: readonly HeaderTag[] = []): string[] {
  const present = hooked(headerTags).filter((h) => resolvable(h.name));
  if (present.length === 0) return [];
  const names = present.map((h) => h.name);
  const { Hook: RequireHook } = require('require-in-the-middle') as typeof import('require-in-the-middle');
  new RequireHook(names, (exports, name) => {
    present.find((h) => h.name === name)?.instrument(exports);
    return exports;
  });
  registerImportHook(names);
  const { Hook: ImportHook } = require('import-in-the-middle') as typeof import('import-in-the-middle');
  new ImportHook(names, (exported, name) => {
    // A CommonJS package imported from ESM: its exports are the namespace's default, or named exports.
    present.find((h) => h.name === name)?.instrument(exported);
  });
  return names;
}
