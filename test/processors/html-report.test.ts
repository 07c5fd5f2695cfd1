import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Profile } from 'pprof-format';
import { newProfiler, type Processor, type WindowInfo } from '../../src/index.js';
import { htmlReportProcessor } from '../../src/processors/html-report.js';
import { buildFlameForest } from '../../src/processors/html-report/flame.js';
import { runRoutes } from '../helpers/hot-workload.js';
import { ensureDebianTool, loudSkip } from '../helpers/system-tool.js';
import { windowOf } from '../helpers/windows.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const HEAVY = 'route=/heavy|tenant=acme';
const LIGHT = 'route=/light|tenant=globex';
const CHECKOUT = 'route=/checkout|tenant=acme';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

/** Runs the route workload under a profiler with the given processors. */
async function profileRoutes(processors: Processor[], windowMs: number, ms: number): Promise<void> {
  const profiler = newProfiler(processors, 0, windowMs, { samplingIntervalMicros: 1000 });
  void profiler.run();
  try {
    await runRoutes(ms);
  } finally {
    await profiler.stop();
  }
}

/**
 * One profiler run feeds every test that needs real samples: the flame-tree tests
 * get its first window's profile, the browser tests the report it wrote. (A
 * second sampler started later in the same process would not see code V8 had
 * already optimised on-stack, and would put the route functions' CPU under their
 * callers: see the final report of issue 5.)
 */
const dir = mkdtempSync(join(tmpdir(), 'reqprof-report-'));
const file = join(dir, 'report.html');
const writes: WindowInfo[] = [];
const profiles: Profile[] = [];

before(async () => {
  // The page shows the latest window: leave out the partial one that stop() delivers,
  // which may hold a few ms of samples, so the assertions see full windows.
  const report = htmlReportProcessor({ file, onWrite: (_, w) => void writes.push(w) });
  const fullWindowsOnly: Processor = (list, w) => {
    profiles.push(...(w.profiles ?? []));
    return w.reason === 'window' ? report(list, w) : undefined;
  };
  fullWindowsOnly.needs = report.needs;
  await profileRoutes([fullWindowsOnly], 700, 2500);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('htmlReportProcessor options', () => {
  test('bad options are TypeErrors/RangeErrors naming the option', () => {
    assert.throws(() => htmlReportProcessor(null as never), (e: Error) => e instanceof TypeError && /options must be an object/.test(e.message));
    assert.throws(() => htmlReportProcessor({ file: 3 as never }), (e: Error) => e instanceof TypeError && /"file"/.test(e.message));
    assert.throws(() => htmlReportProcessor({ historyWindows: 0 }), (e: Error) => e instanceof RangeError && /"historyWindows".*between 1 and 10000/.test(e.message));
    assert.throws(() => htmlReportProcessor({ maxTagSets: 2.5 }), (e: Error) => e instanceof RangeError && /"maxTagSets"/.test(e.message));
    assert.throws(() => htmlReportProcessor({ maxFlameNodes: 10 }), (e: Error & { code?: string }) =>
      e instanceof RangeError && /"maxFlameNodes".*between 100 and/.test(e.message) && e.code === 'REQPROF_ERR_INVALID_OPTION');
    assert.throws(() => htmlReportProcessor({ onWrite: {} as never }), (e: Error) => e instanceof TypeError && /"onWrite"/.test(e.message));
  });

  test('the processor asks for profiles and tells where the report goes', () => {
    const p = htmlReportProcessor();
    assert.deepEqual(p.needs, { profile: true });
    assert.equal(p.file, join(process.cwd(), 'reqprof-report.html'));
  });
});

describe('flame trees from labelled profiles', () => {
  test('each tag set gets its own call tree, with its route function as the hottest leaf', () => {
    const forest = buildFlameForest(profiles.slice(0, 1), { treeOf: (k) => k, allKey: '*', maxNodes: () => 10_000, hotFunctions: 3 });
    const tree = (k: string) => forest.trees.find((t) => t.key === k)!;
    const hottest = (k: string) => forest.frames[tree(k).hot[0]![0]]![0];
    assert.equal(hottest(HEAVY), 'renderInvoice');
    assert.equal(hottest(LIGHT), 'listProducts');
    assert.equal(hottest(CHECKOUT), 'checkoutCart');
    const all = tree('*');
    const sum = [HEAVY, LIGHT, CHECKOUT].reduce((s, k) => s + tree(k).totalUs, 0);
    assert.ok(all.totalUs >= sum, `all ${all.totalUs} < tagged ${sum}`);
  });

  test('the node cap keeps the largest nodes as a tree, and building never changes the shared profile', () => {
    const before = Buffer.from(profiles[0]!.encode());
    const forest = buildFlameForest(profiles.slice(0, 1), { treeOf: (k) => k, allKey: '*', maxNodes: () => 5, hotFunctions: 3 });
    assert.ok(Buffer.from(profiles[0]!.encode()).equals(before), 'the profile changed');
    for (const t of forest.trees) {
      assert.ok(t.nodes.length / 3 <= 5, `${t.key}: ${t.nodes.length / 3} nodes`);
      // Preorder triples with child counts must decode to exactly the array.
      let pos = 0;
      const read = (): number => {
        const value = t.nodes[pos + 1]!;
        const kids = t.nodes[pos + 2]!;
        pos += 3;
        let childSum = 0;
        for (let i = 0; i < kids; i++) childSum += read();
        assert.ok(childSum <= value + kids, 'a child holds more than its parent');
        return value;
      };
      assert.equal(read(), t.totalUs);
      assert.equal(pos, t.nodes.length);
    }
  });
});

describe('the HTML report in a real browser (Chromium)', () => {
  let chromiumPath: { path: string } | { skip: string };
  let browser: Browser | undefined;

  async function open(path: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
    });
    await page.goto(`file://${path}`);
    await page.waitForSelector('#rows tr');
    return { page, problems };
  }

  before(async () => {
    chromiumPath = ensureDebianTool('chromium', 'chromium');
    if ('skip' in chromiumPath) {
      loudSkip('the Chromium checks of the HTML report', chromiumPath.skip);
      return;
    }
    browser = await chromium.launch({ executablePath: chromiumPath.path, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
  });

  test('the report is rewritten each window in place, atomically, as one self-contained file', (t) => {
    if ('skip' in chromiumPath) return t.skip(chromiumPath.skip);
    assert.ok(writes.length >= 3, `${writes.length} writes`);
    assert.deepEqual(readdirSync(dir).filter((n) => n === 'report.html' || n.endsWith('.tmp')), ['report.html']);
    const html = readFileSync(file, 'utf8');
    assert.ok(!/<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i.test(html), 'the page references a network resource');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    mkdirSync(ARTIFACTS, { recursive: true });
    copyFileSync(file, join(ARTIFACTS, 'html-report.html'));
    console.log(`report: ${statSync(file).size} bytes after ${writes.length} windows`);
  });

  test('Chromium shows the chart, table and flame graph of the workload\'s tags with no console error, and a chosen tag set changes the flame graph', async (t) => {
    if ('skip' in chromiumPath) return t.skip(chromiumPath.skip);
    const { page, problems } = await open(file);
    try {
      // The chart: one column per window, coloured segments, a legend naming the tag sets.
      const columns = await page.locator('#chart svg g.col').count();
      assert.equal(columns, writes.length);
      assert.ok(await page.locator(`#chart rect.seg[data-key="${HEAVY}"]`).count() >= 3);
      const legend = await page.locator('#legend button').allTextContents();
      for (const label of ['route=/heavy, tenant=acme', 'route=/light, tenant=globex', 'route=/checkout, tenant=acme']) {
        assert.ok(legend.some((l) => l.startsWith(label)), `legend ${JSON.stringify(legend)} lacks ${label}`);
      }
      // The table: the heavy route first, with its share, ± error and hottest function.
      const first = page.locator('#rows tr').first();
      assert.equal(await first.getAttribute('data-key'), HEAVY);
      const cells = await first.locator('td').allTextContents();
      assert.match(cells[1]!, /^\d+\.\d%$/);
      assert.match(cells[2]!, /^± \d+\.\d pt$/);
      assert.match(cells[7]!, /^renderInvoice /); // after samples, requests and CPU per request (hidden when not counted)
      // The flame graph opens on the heaviest tag set.
      assert.equal(await page.locator('#flame-select').inputValue(), HEAVY);
      await page.locator('#flame .fr[data-name="renderInvoice"]').first().waitFor();
      assert.equal(await page.locator('#flame .fr[data-name="listProducts"]').count(), 0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'html-report.png'), fullPage: true });
      // Another tag set, chosen in the select: its own function, not the heavy one's.
      await page.selectOption('#flame-select', LIGHT);
      await page.locator('#flame .fr[data-name="listProducts"]').first().waitFor();
      assert.equal(await page.locator('#flame .fr[data-name="renderInvoice"]').count(), 0);
      assert.match(await page.locator('#flame-info').textContent() ?? '', /^route=\/light, tenant=globex: /);
      // ... or by clicking its table row; the choice survives a reload (kept in the URL).
      await page.locator(`#rows tr[data-key="${CHECKOUT}"]`).click();
      await page.locator('#flame .fr[data-name="checkoutCart"]').first().waitFor();
      await page.reload();
      await page.locator('#flame .fr[data-name="checkoutCart"]').first().waitFor();
      assert.equal(await page.locator('#flame-select').inputValue(), CHECKOUT);
      // Zoom: clicking a frame makes it the full width.
      await page.locator('#flame .fr[data-name="checkoutCart"]').first().click();
      assert.match(await page.locator('#flame-info').textContent() ?? '', /zoomed on checkoutCart/);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test('tag values are shown as text: markup in a tag value neither runs nor breaks the page', async (t) => {
    if ('skip' in chromiumPath) return t.skip(chromiumPath.skip);
    const hostileFile = join(dir, 'hostile.html');
    const evil = '</script><img src=x onerror="window.__pwned=1"><b>bold</b>';
    const { profiles, window } = windowOf([{ tags: { tenant: evil }, cpuMs: 30 }, { tags: null, cpuMs: 5 }]);
    await htmlReportProcessor({ file: hostileFile, title: '<i>title</i>' })(profiles, window);
    const { page, problems } = await open(hostileFile);
    try {
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('img, h1 i').count(), 0);
      assert.equal(await page.locator('b', { hasText: 'bold' }).count(), 0);
      assert.equal(await page.locator('h1').textContent(), '<i>title</i>');
      assert.equal(await page.locator('#rows tr').first().locator('.chip').textContent(), `tenant=${evil}`);
      assert.match(await page.locator('#flame').textContent() ?? '', /No profile in this window/);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});

describe('the window delivered at process exit', () => {
  test('is written before the processor returns (there is no later turn of the event loop)', () => {
    const exitFile = join(dir, 'exit.html');
    const { profiles: list, window } = windowOf([{ tags: { route: '/a' }, cpuMs: 20 }]);
    const r = htmlReportProcessor({ file: exitFile })(list, { ...window, reason: 'exit', profiles: profiles.slice(0, 1) });
    assert.equal(r, undefined);
    assert.match(readFileSync(exitFile, 'utf8'), /"reason":"exit"/);
  });
});

describe('the report\'s size is bounded', () => {
  test('with many windows and tag sets, the page keeps historyWindows columns and maxTagSets rows, and stops growing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reqprof-report-size-'));
    try {
      const file = join(dir, 'r.html');
      const report = htmlReportProcessor({ file, historyWindows: 20, maxTagSets: 15, chartSeries: 8 });
      const sizes: number[] = [];
      for (let w = 0; w < 60; w++) {
        const sets = Array.from({ length: 400 }, (_, i) => ({ tags: { tenant: `tenant-${(i + w) % 900}`, route: `/r${i % 7}` }, cpuMs: 1 + (i % 13) }));
        const { profiles, window } = windowOf(sets);
        await report(profiles, window);
        sizes.push(statSync(file).size);
      }
      const model = JSON.parse(/<script type="application\/json" id="reqprof-data">(.*?)<\/script>/s.exec(readFileSync(file, 'utf8'))![1]!);
      assert.equal(model.history.windows.length, 20);
      assert.equal(model.history.series.length, 8 + 1);
      assert.equal(model.latest.rows.length, 15);
      assert.equal(model.latest.more.tagSets, 400 - 15);
      // Past the history length, the file size only wobbles with the content.
      const late = sizes.slice(25);
      assert.ok(Math.max(...late) < Math.min(...late) * 1.1, `sizes ${late.join(', ')}`);
      assert.ok(Math.max(...sizes) < 200_000, `${Math.max(...sizes)} bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
