// Takes a PNG of the debug endpoint's report page with headless Chromium (the
// README's screenshot): node examples/debug/screenshot.mjs URL out.png
// Needs playwright-core (a devDependency) and Debian's chromium.
import { chromium } from 'playwright-core';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node examples/debug/screenshot.mjs http://127.0.0.1:PORT/debug/reqprof/ out.png');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#rows tr');
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
