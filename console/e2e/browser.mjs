// Shared by the console's browser drivers (tests/browser/test_console_in_chromium.py):
// headless Chromium from Debian's package (never a downloaded build) driven by
// playwright-core, one browser with a context per person (an owner, a reviewer), and
// everything the pages do recorded for the test to judge: requests, console errors,
// uncaught exceptions, CSP violations, WebSocket traffic, and axe-core's findings on every
// screen. A driver reads its task as JSON on stdin and prints its report as JSON on stdout.

import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CERTS_CHROMIUM || '/usr/bin/chromium';
export const WAIT = { timeout: 60_000 };
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

/** A person's browser context: its own storage, the clipboard allowed for the console's
 * origin, and its pages' doings recorded in `record.contexts[label]`. */
export async function personContext(browser, record, label, origin) {
  const seen = { requests: [], graphqlPosts: [], consoleErrors: [], pageErrors: [], cspViolations: [], websockets: [] };
  record.contexts[label] = seen;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.on('request', (request) => {
    seen.requests.push(request.url());
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql') {
      seen.graphqlPosts.push({ at: Date.now(), authorization: request.headers().authorization ?? null, body: request.postData() ?? '' });
    }
  });
  // Reported by the page itself; an init script is not subject to the page's CSP.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    (text.startsWith('CSP violation') ? seen.cspViolations : seen.consoleErrors).push(text);
  });
  page.on('pageerror', (error) => seen.pageErrors.push(String(error)));
  page.on('websocket', (socket) => {
    const entry = { url: socket.url(), sent: [], received: 0, closed: false };
    seen.websockets.push(entry);
    socket.on('framesent', (frame) => entry.sent.push(String(frame.payload).slice(0, 300)));
    socket.on('framereceived', () => {
      entry.received += 1;
    });
    socket.on('close', () => {
      entry.closed = true;
    });
  });
  return { context, page, seen };
}

/** axe-core on the page as it is now: every violation, by impact, for `screen`. */
export async function axe(page, record, screen) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  record.axe.push({
    screen,
    violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })),
    passes: results.passes.length,
  });
}

/** What the page does while nobody touches it for `ms`: the main thread's script time
 * (Chrome's own counter, seconds) and the GraphQL requests it sends. An idle screen runs
 * no script and sends nothing: no polling, no render loop. */
export async function idle(page, seen, ms = 1500) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const script = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ScriptDuration').value;
  const before = await script();
  const posts = seen.graphqlPosts.length;
  await page.waitForTimeout(ms);
  const result = { scriptSeconds: (await script()) - before, graphqlPosts: seen.graphqlPosts.length - posts, ms };
  await cdp.detach();
  return result;
}

export async function storage(page) {
  return page.evaluate(() => ({
    local: Object.fromEntries(Object.entries(window.localStorage)),
    session: Object.fromEntries(Object.entries(window.sessionStorage)),
    cookie: document.cookie,
    href: window.location.href,
  }));
}

/** The status a screen shows (its status badge's data-status). */
export async function shownStatus(page) {
  return page.locator('.status-line [data-status]').first().getAttribute('data-status');
}

export async function signIn(page, url, token) {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
}

/**
 * One browser; `run(browser, record)` does the work, writing what it finds into `record`
 * as it goes (so a failure still reports how far it got); the report is printed. On a
 * failure every open page is saved to `failureScreenshot` (-<n>.png).
 */
export async function withBrowser(task, run) {
  const record = { contexts: {}, axe: [], steps: [] };
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    await run(browser, record);
  } catch (error) {
    record.failure = String(error && error.stack ? error.stack : error);
    if (task.failureScreenshot) {
      let n = 0;
      for (const context of browser.contexts()) {
        for (const page of context.pages()) {
          n += 1;
          await page.screenshot({ path: task.failureScreenshot.replace(/\.png$/, `-${n}.png`), fullPage: true }).catch(() => {});
        }
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
