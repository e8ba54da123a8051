// A browser app on another origin calls the API: for each page of the task (served from
// an origin of its own), opens it and lets its own script call the API with fetch and a
// bearer token (window.callApi, defined by the page). Task (stdin): {"pages": [{"name",
// "url"}], "api", "token"}. Report: per page, what the page's script got (status, body and
// the exposed X-Request-ID, or the error fetch threw), and what the browser logged.

import { readTask, withBrowser } from './browser.mjs';

const task = await readTask();

await withBrowser(async (page, record) => {
  record.pages = {};
  for (const { name, url } of task.pages) {
    const logged = record.consoleErrors.length;
    await page.goto(url, { timeout: 60_000 });
    const result = await page.evaluate(([api, token]) => window.callApi(api, token), [task.api, task.token]);
    record.pages[name] = { origin: await page.evaluate(() => window.location.origin), ...result };
    record.pages[name].consoleErrors = record.consoleErrors.slice(logged);
  }
});
