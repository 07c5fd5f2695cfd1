import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianTool, loudSkip } from '../helpers/system-tool.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} not found`);
  return i + 1;
}

describe('source maps: a service running tsc-compiled code', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'reqprof-sourcemaps-'));
  const src = join(tmp, 'src');
  const out = join(tmp, 'out');
  const pprofDir = join(tmp, 'pprof');
  let sourceLine = 0;
  let child: { top: Array<{ name: string; file: string; line: number; percent: number }> | null };

  before(() => {
    mkdirSync(src);
    copyFileSync(join(here, 'fixtures', 'invoice.ts'), join(src, 'invoice.ts'));
    // Run in the temp directory: with files on the command line, tsc refuses to sit next to a tsconfig.json.
    const tsc = spawnSync(join(repo, 'node_modules', '.bin', 'tsc'),
      ['--sourceMap', '--target', 'es2022', '--module', 'commonjs', '--outDir', out, join(src, 'invoice.ts')],
      { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    sourceLine = lineOf(readFileSync(join(src, 'invoice.ts'), 'utf8'), 'export function renderInvoice');
    const generatedLine = lineOf(readFileSync(join(out, 'invoice.js'), 'utf8'), 'function renderInvoice');
    assert.notEqual(generatedLine, sourceLine, 'the fixture must compile to different lines, or mapping proves nothing');
    assert.ok(readdirSync(out).includes('invoice.js.map'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'source-mapped-service.ts'), out, pprofDir],
      { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `the service failed:\n${r.stdout}\n${r.stderr}`);
    child = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('topFunctions points at the .ts source file and the function\'s line in it', () => {
    assert.ok(child.top, 'no top functions for route=/invoice');
    const f = child.top[0]!;
    assert.equal(f.name, 'renderInvoice');
    assert.equal(f.file, join(src, 'invoice.ts'));
    assert.equal(f.line, sourceLine);
  });

  test('go tool pprof -lines shows renderInvoice at invoice.ts, not at the compiled invoice.js', (t) => {
    const go = ensureDebianTool('go', 'golang-go');
    if ('skip' in go) return t.skip(loudSkip('the go tool pprof source-map check', go.skip));
    const files = readdirSync(pprofDir).filter((n) => n.endsWith('.pb.gz')).sort();
    assert.ok(files.length > 0);
    const r = spawnSync(go.path, ['tool', 'pprof', '-tagfocus=route=/invoice', '-top', '-lines', join(pprofDir, files[0]!)],
      { encoding: 'utf8', cwd: tmp, timeout: 120_000, env: { ...process.env, PPROF_TMPDIR: tmp } });
    assert.equal(r.status, 0, r.stderr);
    const row = r.stdout.split('\n').find((l) => l.includes('renderInvoice'));
    assert.ok(row, r.stdout);
    assert.ok(row.includes(`${join(src, 'invoice.ts')}:${sourceLine}`), row);
    assert.ok(!r.stdout.includes('invoice.js'), r.stdout);
  });
});
