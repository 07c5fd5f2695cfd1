/**
 * Load hooks for the frameworks whose route can only be read from objects the
 * app never hands to the server (Koa's context): `require-in-the-middle` for
 * CommonJS `require`, `import-in-the-middle` for ES `import` (an ESM loader
 * hook, registered with `module.register`, limited to those packages). Both
 * are the hooks OpenTelemetry and dd-trace load their instrumentations with;
 * reqprof only patches a class prototype through them, never an export.
 *
 * Installed only when the app can resolve such a framework from its working
 * directory, so an app without it pays nothing at start.
 */
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { instrumentKoa } from './koa-route.js';

const require = createRequire(import.meta.url);

/** Packages hooked, with what to do with their exports once loaded. */
const HOOKED: ReadonlyArray<{ name: string; instrument: (exports: unknown) => void }> = [
  { name: 'koa', instrument: instrumentKoa },
];

/** Whether `name` resolves from the app's working directory. */
function resolvable(name: string): boolean {
  try {
    createRequire(pathToFileURL(process.cwd() + '/').href).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Installs the load hooks for every hooked framework the app has; returns their names. */
export function hookFrameworkModules(): string[] {
  const present = HOOKED.filter((h) => resolvable(h.name));
  if (present.length === 0) return [];
  const names = present.map((h) => h.name);
  const { Hook: RequireHook } = require('require-in-the-middle') as typeof import('require-in-the-middle');
  new RequireHook(names, (exports, name) => {
    present.find((h) => h.name === name)?.instrument(exports);
    return exports;
  });
  register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: names } });
  const { Hook: ImportHook } = require('import-in-the-middle') as typeof import('import-in-the-middle');
  new ImportHook(names, (exported, name) => {
    const ns = exported as { default?: unknown };
    present.find((h) => h.name === name)?.instrument(ns.default ?? ns);
  });
  return names;
}
