/*
 * report.mjs - the monthly report's HTML in headless Chromium (issue 14:
 * "the HTML opens in headless Chromium without errors and a screenshot is
 * saved").  Run by tests/integration/test_report.c:
 *
 *     node tests/browser/report.mjs CONFIG.json
 *
 * CONFIG: {html, screenshot, chromium}.  Prints one JSON line on stdout:
 * {errors: [...], title, sections, bars: [{row, value}]}: every console
 * error, page error and failed request (a self-contained page makes
 * none), the customers' sections, and every drawn bar's CSV row, which the
 * C test finds in the CSV.  Bounded: 30 s for the page, 60 s in all.
 */
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const errors = [];
const timer = setTimeout(() => {
  process.stdout.write(JSON.stringify({ errors: ['report.mjs took over 60 s'] }) + '\n');
  process.exit(2);
}, 60000);

const browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  /* anything but the page itself is a dependency the page must not have */
  page.on('request', (r) => { if (r.url() !== 'file://' + cfg.html) errors.push(`request: ${r.url()}`); });
  await page.goto('file://' + cfg.html, { waitUntil: 'load', timeout: 30000 });
  const title = await page.title();
  const sections = await page.$$eval('section.customer', (s) => s.length);
  const bars = await page.$$eval('[data-row]', (els) => els.map((e) => ({
    row: e.getAttribute('data-row'), value: e.getAttribute('data-value'),
    width: e.getBBox ? e.getBBox().width : null,
  })));
  await page.screenshot({ path: cfg.screenshot, fullPage: true });
  process.stdout.write(JSON.stringify({ errors, title, sections, bars }) + '\n');
} catch (e) {
  errors.push(`report.mjs: ${e.message}`);
  process.stdout.write(JSON.stringify({ errors }) + '\n');
} finally {
  await browser.close();
  clearTimeout(timer);
}
