import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** The layer table of docs/ARCHITECTURE.md: each path (file or folder/) with its layer number. */
function layerTable(): Array<{ path: string; layer: number; name: string }> {
  const doc = readFileSync(join(root, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const block = /<!-- layers:[^>]*-->([\s\S]*?)<!-- \/layers -->/.exec(doc);
  assert.ok(block, 'docs/ARCHITECTURE.md has its layer table between <!-- layers --> markers');
  const out: Array<{ path: string; layer: number; name: string }> = [];
  for (const line of block[1]!.split('\n')) {
    const row = /^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|([^|]*)\|/.exec(line);
    if (row === null) continue;
    for (const m of row[3]!.matchAll(/`([^`]+)`/g)) out.push({ path: m[1]!, layer: Number(row[1]), name: row[2]! });
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts')) out.push(relative(src, p).split('\\').join('/'));
  }
  return out.sort();
}

/** The layer of a file: the longest path of the table that is the file or a folder holding it. */
function layerOf(file: string, table: ReturnType<typeof layerTable>): { layer: number; name: string } | undefined {
  let best: { path: string; layer: number; name: string } | undefined;
  for (const e of table) {
    const hit = e.path.endsWith('/') ? file.startsWith(e.path) : file === e.path;
    if (hit && (best === undefined || e.path.length > best.path.length)) best = e;
  }
  return best;
}

/**
 * Every relative module a file imports (`import`, `import type`, `export ... from`,
 * `import('...')`), as paths below src/. A regex, not a parser: the TypeScript in
 * this project (tsc 7) has no JavaScript API; relative specifiers are plain strings.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(src, file), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.add(posix.normalize(posix.join(posix.dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return [...out];
}

test('architecture: every file of src/ has a layer in docs/ARCHITECTURE.md', () => {
  const table = layerTable();
  assert.ok(table.length > 0, 'the layer table lists paths');
  const unplaced = sourceFiles(src).filter((f) => layerOf(f, table) === undefined);
  assert.deepEqual(unplaced, [], 'files the layer table does not place (add them to docs/ARCHITECTURE.md)');
});

test('architecture: every import in src/ points to its own layer or a lower one', () => {
  const table = layerTable();
  const upward: string[] = [];
  for (const file of sourceFiles(src)) {
    const from = layerOf(file, table);
    if (from === undefined) continue;
    for (const target of importsOf(file)) {
      const to = layerOf(target, table);
      if (to !== undefined && to.layer > from.layer) {
        upward.push(`${file} (${from.layer} ${from.name}) imports ${target} (${to.layer} ${to.name})`);
      }
    }
  }
  assert.deepEqual(upward, [], 'imports pointing to a higher layer');
});

test('architecture: the context does not import the aggregation or the engine', () => {
  for (const file of ['context.ts', 'tag-context-registry.ts']) {
    const imports = importsOf(file);
    assert.ok(!imports.includes('aggregate.ts'), `${file} imports aggregate.ts`);
    assert.ok(!imports.some((i) => i.startsWith('engine/')), `${file} imports the engine`);
  }
});
