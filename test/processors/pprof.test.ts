import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { createLogProcessor, newProfiler, type TagsProfile } from '../../src/index.js';
import { pprofProcessor } from '../../src/processors/pprof.js';
import { FilePattern } from '../../src/processors/pprof/file-pattern.js';
import { filesToDelete, type PatternFile } from '../../src/processors/pprof/retention.js';
import { runRoutes } from '../helpers/hot-workload.js';
import { loopOf } from '../../src/loop/test-seam.js';
import { MemoryLogger } from '../helpers/logger.js';
import { ensureDebianTool, loudSkip } from '../helpers/system-tool.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'pprof');

function goPprof(go: string, args: string[], cwd: string): string {
  const r = spawnSync(go, ['tool', 'pprof', ...args], { encoding: 'utf8', cwd, timeout: 120_000, env: { ...process.env, PPROF_TMPDIR: cwd } });
  assert.equal(r.status, 0, `go tool pprof ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The function names of `-top` rows, in order. */
function topNames(out: string): string[] {
  const lines = out.split('\n');
  const header = lines.findIndex((l) => /flat\s+flat%\s+sum%\s+cum\s+cum%/.test(l));
  assert.ok(header >= 0, `no -top table in:\n${out}`);
  return lines.slice(header + 1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).slice(5).join(' '));
}

function saveArtifact(name: string, text: string): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, name), text);
}

describe('pprofProcessor options', () => {
  test('a missing or empty dir is a TypeError/RangeError naming "dir"', () => {
    assert.throws(() => pprofProcessor(undefined as never), (e: Error) => e instanceof TypeError && /options must be an object/.test(e.message));
    assert.throws(() => pprofProcessor({} as never), (e: Error) => e instanceof TypeError && /"dir"/.test(e.message));
    assert.throws(() => pprofProcessor({ dir: '' }), (e: Error) => e instanceof RangeError && /"dir"/.test(e.message));
  });

  test('a file name with a directory, an unknown placeholder or nothing that varies per window is a RangeError naming "fileName"', () => {
    for (const fileName of ['a/{seq}.pb.gz', 'x-{when}.pb.gz', 'profile.pb.gz', '{pid}.pb.gz', '{seq}-{seq}.pb.gz']) {
      assert.throws(() => pprofProcessor({ dir: 'p', fileName }), (e: Error & { code?: string }) =>
        e instanceof RangeError && /"fileName"/.test(e.message) && e.code === 'REQPROF_ERR_INVALID_OPTION', fileName);
    }
  });

  test('maxFiles and maxBytes take positive integers or Infinity, and onFile a function', () => {
    assert.throws(() => pprofProcessor({ dir: 'p', maxFiles: 0 }), (e: Error) => e instanceof RangeError && /"maxFiles".*between 1 and/.test(e.message));
    assert.throws(() => pprofProcessor({ dir: 'p', maxFiles: 1.5 }), RangeError);
    assert.throws(() => pprofProcessor({ dir: 'p', maxBytes: '1MB' as never }), (e: Error) => e instanceof TypeError && /"maxBytes"/.test(e.message));
    assert.throws(() => pprofProcessor({ dir: 'p', onFile: 'x' as never }), (e: Error) => e instanceof TypeError && /"onFile"/.test(e.message));
    const p = pprofProcessor({ dir: 'p', maxFiles: Infinity, maxBytes: Infinity });
    assert.deepEqual(p.needs, { profile: true });
    assert.equal(p.dir, join(process.cwd(), 'p'));
  });
});

describe('pprof file names and retention', () => {
  test('the pattern builds sortable names and recognises only its own files', () => {
    const p = new FilePattern('svc-{pid}-{start}-{seq}.pb.gz');
    const name = p.format({ seq: 7, startMs: Date.UTC(2026, 0, 22, 11, 21, 57, 123), pid: 42 });
    assert.equal(name, 'svc-42-20260122T112157.123Z-000007.pb.gz');
    assert.deepEqual(p.match(name), { seq: 7 });
    assert.equal(p.match('svc-42-20260122T112157.123Z-000007.pb.gz.tmp'), undefined);
    assert.equal(p.match('.svc-42-20260122T112157.123Z-000007.pb.gz.42.1.tmp'), undefined);
    assert.equal(p.match('notes.txt'), undefined);
    assert.deepEqual(new FilePattern('cpu-{startMs}.pprof').match('cpu-1769080917123.pprof'), { seq: undefined });
  });

  test('retention deletes the oldest files beyond maxFiles or maxBytes, never the file just written', () => {
    const files: PatternFile[] = [1, 2, 3, 4, 5].map((i) => ({ name: `f${i}`, size: 100, mtimeMs: i, seq: i }));
    assert.deepEqual(filesToDelete(files, { maxFiles: 3, maxBytes: Infinity }, new Set(['f5'])), ['f1', 'f2']);
    assert.deepEqual(filesToDelete(files, { maxFiles: Infinity, maxBytes: 250 }, new Set(['f5'])), ['f1', 'f2', 'f3']);
    assert.deepEqual(filesToDelete(files, { maxFiles: Infinity, maxBytes: 50 }, new Set(['f5'])), ['f1', 'f2', 'f3', 'f4']);
    assert.deepEqual(filesToDelete(files, { maxFiles: 10, maxBytes: 1000 }, new Set()), []);
  });
});

describe('pprof files from a real profiler, read by go tool pprof', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reqprof-pprof-'));
  const written: string[] = [];
  const log = new MemoryLogger();
  const delivered: TagsProfile[][] = [];
  let go: { path: string } | { skip: string };
  let file = '';

  before(async () => {
    go = ensureDebianTool('go', 'golang-go');
    if ('skip' in go) loudSkip('the go tool pprof checks', go.skip);
    const profiler = newProfiler([
      pprofProcessor({ dir, onFile: (f) => written.push(f) }),
      createLogProcessor(log),
      (profiles) => void delivered.push(profiles),
    ], 0, 1200, { samplingIntervalMicros: 1000, topFunctions: 3 });
    void profiler.run();
    try {
      await runRoutes(2600);
    } finally {
      await profiler.stop();
    }
    // The first window is a full one.
    file = written[0]!;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each window becomes one gzipped pprof file named by the pattern, written atomically (no temp file left)', () => {
    assert.ok(written.length >= 2, `files: ${written.join(', ')}`);
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, written.map((f) => f.slice(dir.length + 1)).sort());
    for (const n of names) assert.match(n, /^reqprof-\d{8}T\d{6}\.\d{3}Z-\d{6}\.pb\.gz$/);
    const profile = Profile.decode(gunzipSync(readFileSync(file)));
    const strings = profile.stringTable.strings;
    const labelled = profile.sample.filter((s) => s.label.some((l) => strings[Number(l.key)] === 'route'));
    assert.ok(labelled.length > 50, `only ${labelled.length} labelled samples`);
  });

  test('go tool pprof -tags lists the route and tenant tags with their values', (t) => {
    if ('skip' in go) return t.skip(go.skip);
    const out = goPprof(go.path, ['-tags', file], dir);
    saveArtifact('tags.txt', out);
    console.log(`$ go tool pprof -tags ${file}\n${out}`);
    assert.match(out, /route: Total/);
    assert.match(out, /tenant: Total/);
    for (const v of ['/heavy', '/light', '/checkout', 'acme', 'globex']) assert.ok(out.includes(`: ${v}\n`), `${v} missing from:\n${out}`);
  });

  test('go tool pprof -tagfocus=route=/heavy -top puts renderInvoice on top, and the light route listProducts', (t) => {
    if ('skip' in go) return t.skip(go.skip);
    const heavy = goPprof(go.path, ['-tagfocus=route=/heavy', '-top', file], dir);
    saveArtifact('tagfocus-heavy-top.txt', heavy);
    console.log(`$ go tool pprof -tagfocus=route=/heavy -top ${file}\n${heavy}`);
    assert.match(heavy, /^Type: cpu$/m);
    assert.equal(topNames(heavy)[0], 'renderInvoice');
    assert.ok(!topNames(heavy).includes('listProducts'), 'the focus must leave the other routes out');
    const light = goPprof(go.path, ['-tagfocus=route=/light', '-top', file], dir);
    assert.equal(topNames(light)[0], 'listProducts');
  });

  test('the samples carry sample/count, wall/nanoseconds and cpu/nanoseconds, and cpu is what -top shows by default', (t) => {
    if ('skip' in go) return t.skip(go.skip);
    const raw = goPprof(go.path, ['-raw', file], dir);
    assert.match(raw, /^sample\/count wall\/nanoseconds cpu\/nanoseconds$/m);
    // The profile's time is its window's start, as in the file name (and as Go's own profiles have it).
    const time = /^Time: (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d{1,3})?)\d* \+0000 UTC$/m.exec(raw);
    assert.ok(time, raw.slice(0, 300));
    const n = /(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d\.\d{3})Z/.exec(file)!;
    assert.equal(Date.parse(`${time[1]}T${time[2]}Z`), Date.parse(`${n[1]}-${n[2]}-${n[3]}T${n[4]}:${n[5]}:${n[6]}Z`));
    const wall = goPprof(go.path, ['-sample_index=wall', '-tagfocus=route=/heavy', '-top', file], dir);
    assert.match(wall, /^Type: wall$/m);
    assert.equal(topNames(wall)[0], 'renderInvoice');
    const cpu = goPprof(go.path, ['-sample_index=cpu', '-unit=ms', '-top', file], dir);
    assert.match(cpu, /^Type: cpu$/m);
    assert.match(cpu, /Showing nodes accounting for [\d.]+ms/);
  });

  test('the window delivered at process exit is written before the processor returns', () => {
    const exitDir = join(dir, 'exit');
    const profile = Profile.decode(gunzipSync(readFileSync(file)));
    const now = Date.now();
    const r = pprofProcessor({ dir: exitDir })([], {
      start: now - 1000, end: now, durationMs: 1000, intervalMs: 0, windowMs: 1000, scale: 1, samplingIntervalMicros: 1000,
      totalCpu: 0, untaggedCpu: 0, nonJsThreadsCpu: 0, samples: 0, busySamples: 0, windows: 1, overflowTagSets: 0, reason: 'exit', mode: 'async-hooks', profiles: [profile],
    });
    assert.equal(r, undefined);
    const names = readdirSync(exitDir);
    assert.equal(names.length, 1);
    assert.equal(Profile.decode(gunzipSync(readFileSync(join(exitDir, names[0]!)))).sample.length, profile.sample.length);
  });

  test('with topFunctions, the heavy tag set names renderInvoice first, and the log processor prints it', () => {
    const heavy = delivered[0]!.find((p) => p.key === 'route=/heavy|tenant=acme');
    assert.ok(heavy?.topFunctions, JSON.stringify(delivered[0]));
    assert.equal(heavy.topFunctions[0]!.name, 'renderInvoice');
    assert.ok(heavy.topFunctions[0]!.file.endsWith('hot-workload.ts'), heavy.topFunctions[0]!.file);
    assert.ok(heavy.topFunctions[0]!.percent > 0.5, String(heavy.topFunctions[0]!.percent));
    const rec = log.records.find((r) => r.obj.key === 'route=/heavy|tenant=acme');
    assert.ok(rec, 'no log record for the heavy tag set');
    assert.match(rec.msg!, /^reqprof: route=\/heavy\|tenant=acme: [\d.]+% \([\d.]+ ms CPU, \d+ samples\) top: renderInvoice \(.*hot-workload\.ts:\d+\) [\d.]+%/);
    assert.equal((rec.obj.topFunctions as Array<{ name: string }>)[0]!.name, 'renderInvoice');
  });
});

describe('pprof retention with a real profiler', () => {
  test('only the newest maxFiles files stay, numbering continues after an earlier run, and other files are left alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reqprof-pprof-keep-'));
    try {
      writeFileSync(join(dir, 'keep-me.txt'), 'not a profile');
      writeFileSync(join(dir, 'cpu-000041.pb.gz'), 'an earlier run');
      const written: string[] = [];
      const profiler = newProfiler(pprofProcessor({ dir, fileName: 'cpu-{seq}.pb.gz', maxFiles: 2, onFile: (f) => written.push(f) }),
        0, 150, { samplingIntervalMicros: 1000 });
      // Windows end when the test says (the loop's manual clock), not when 150 ms have passed.
      const seam = loopOf(profiler).useManualClock();
      const running = profiler.run();
      try {
        for (let i = 0; i < 4; i++) {
          await runRoutes(100);
          await seam.endWindow();
        }
      } finally {
        await profiler.stop();
        await running;
      }
      assert.ok(written.length >= 4, `only ${written.length} windows written`);
      assert.equal(written[0], join(dir, 'cpu-000042.pb.gz'));
      const names = readdirSync(dir).sort();
      const lastTwo = written.slice(-2).map((f) => f.slice(dir.length + 1)).sort();
      assert.deepEqual(names, [...lastTwo, 'keep-me.txt'].sort());
      for (const n of lastTwo) assert.ok(statSync(join(dir, n)).size > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('maxBytes keeps the newest file even when it alone is larger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reqprof-pprof-bytes-'));
    try {
      const written: string[] = [];
      const profiler = newProfiler(pprofProcessor({ dir, maxBytes: 10, onFile: (f) => written.push(f) }), 0, 150, { samplingIntervalMicros: 1000 });
      const seam = loopOf(profiler).useManualClock();
      const running = profiler.run();
      try {
        // Three windows ended back to back: the processor, busy writing the first, gets the next two merged
        // into one delivery of two profiles; of those only the newest may stay over maxBytes.
        await runRoutes(300);
        for (let i = 0; i < 3; i++) await seam.endWindow();
      } finally {
        await profiler.stop();
        await running;
      }
      assert.ok(written.length >= 2);
      assert.deepEqual(readdirSync(dir), [written.at(-1)!.slice(dir.length + 1)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
