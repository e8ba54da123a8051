// Shared by the browser drivers of tests/browser/: headless Chromium from Debian's
// package (never a downloaded build), driven by playwright-core, in a fresh profile, with
// everything the page does recorded for the test to judge. A driver reads its task as
// JSON on stdin and prints its report as JSON on stdout; pytest asserts on the report.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CERTS_CHROMIUM || '/usr/bin/chromium';
// Flags that work on these machines (no sandbox as root, no GPU, nothing phoned home).
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function readTask() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

/**
 * A browser in a profile of its own; `run(page, record)` does the work, writing what it
 * finds into `record` as it goes (so a failure still reports how far it got); the report
 * is printed. On a failure, the page is saved to `failureScreenshot` when given.
 */
export async function withBrowser(run, { width = 1400, height = 850, failureScreenshot } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'certreissue-chromium-'));
  const record = { requests: [], consoleErrors: [], pageErrors: [], cspViolations: [] };
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true, // playwright passes --headless
    args: FLAGS,
    viewport: { width, height },
  });
  try {
    context.on('request', (request) => record.requests.push(request.url()));
    // Reported by the page itself; an init script is not subject to the page's CSP.
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
      });
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      (text.startsWith('CSP violation') ? record.cspViolations : record.consoleErrors).push(text);
    });
    page.on('pageerror', (error) => record.pageErrors.push(String(error)));
    try {
      await run(page, record);
    } catch (error) {
      record.failure = String(error && error.stack ? error.stack : error);
      if (failureScreenshot) await page.screenshot({ path: failureScreenshot }).catch(() => {});
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
