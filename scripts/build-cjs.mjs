// Writes the CommonJS entry points. Each one require()s the ESM build (Node >= 20.19
// loads ES modules from require), so CommonJS and ESM users share one module
// instance, and with it one tag context: a dual build would give each its own
// AsyncLocalStorage and silently split request tags between them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.require) continue;
  const cjsFile = join(root, target.require.default);
  const esmFile = join(root, target.import.default);
  let rel = relative(dirname(cjsFile), esmFile).split('\\').join('/');
  if (!rel.startsWith('.')) rel = './' + rel;
  mkdirSync(dirname(cjsFile), { recursive: true });
  writeFileSync(cjsFile, `'use strict';\n// ${subpath}: CommonJS entry, the same module instance as the ESM one.\nmodule.exports = require('${rel}');\n`);
  writeFileSync(cjsFile.replace(/\.cjs$/, '.d.cts'), `export * from '${rel}';\n`);
}
