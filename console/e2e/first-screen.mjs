// For `python -m bench --only console`: how soon the console's first screen is usable on
// loopback. Each run opens a fresh browser context (an empty cache), then reloads it (the
// hashed assets from the cache, index.html revalidated):
//   sign-in    /console/ until the token field is shown and enabled;
//   list       /console/certificates with a token already in the tab's session storage,
//              until the first row of certificates is shown (one GraphQL round trip).
// Times are the page's own performance.now(): milliseconds from the navigation's start.
// Task: {url, token, runs}. Report: {signIn: {cold: [...], warm: [...]}, list: {...}, transfer}.
// Figures only: nothing here passes or fails on a time.

import { chromium } from 'playwright-core';
import { CHROMIUM, readTask } from './browser.mjs';

const task = await readTask();
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const usable = {
  signIn: () => {
    const input = document.querySelector('input[name="token"]');
    return input && !input.disabled && input.offsetParent !== null ? performance.now() : false;
  },
  list: () => (document.querySelector('table.certificates tbody tr') ? performance.now() : false),
};

async function measure(page, screen) {
  const handle = await page.waitForFunction(usable[screen], null, { polling: 'raf', timeout: 30_000 });
  return handle.jsonValue();
}

async function transfer(page) {
  return page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    return {
      requests: entries.length,
      bytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
      scripts: entries.filter((e) => e.name.endsWith('.js')).reduce((sum, e) => sum + (e.transferSize || 0), 0),
    };
  });
}

const report = { signIn: { cold: [], warm: [] }, list: { cold: [], warm: [] }, transfer: {} };
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
try {
  for (let run = 0; run < task.runs; run += 1) {
    for (const screen of ['signIn', 'list']) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      if (screen === 'list') {
        await context.addInitScript((token) => {
          sessionStorage.setItem('certreissue.token', token);
          sessionStorage.setItem('certreissue.kind', 'account');
        }, task.token);
      }
      const page = await context.newPage();
      await page.goto(`${task.url}/console/${screen === 'list' ? 'certificates' : ''}`);
      report[screen].cold.push(await measure(page, screen));
      if (run === 0) report.transfer[`${screen}Cold`] = await transfer(page);
      await page.reload();
      report[screen].warm.push(await measure(page, screen));
      if (run === 0) report.transfer[`${screen}Warm`] = await transfer(page);
      await context.close();
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(report)}\n`);
