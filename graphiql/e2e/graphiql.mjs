// Uses GraphiQL as a person would: opens /graphql, pastes the Authorization header into
// the Headers tab and the query into the editor, presses run, and waits for the answer.
// Then it fetches the schema again (with the token) and opens the docs and the explorer.
// Task (stdin): {"url", "token", "query", "screenshot", "failureScreenshot"}. Report: what the page requested,
// any error or CSP violation, the editors' and the answer's text, what the page left in
// the browser's storage, whether the "Persist headers" toggle is offered.

import { readTask, withBrowser } from './browser.mjs';

const task = await readTask();
const WAIT = { timeout: 60_000 };

// Monaco draws text with non-breaking spaces; the text as the user reads it.
const visibleText = (locator) => locator.innerText().then((text) => text.replace(/\u00a0/g, ' '));

async function paste(page, editor, text) {
  await editor.locator('.view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete'); // (pasting '{' over a selection would wrap it in braces)
  await page.keyboard.insertText(text); // what a paste does: the text at once, no auto-closing
}

await withBrowser(
  async (page, record) => {
    await page.goto(task.url, WAIT);
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor');
    await queryEditor.locator('.view-lines').waitFor({ state: 'visible', ...WAIT });
    record.editorsRendered = await page.locator('.monaco-editor').count();

    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const headersEditor = page.locator('.graphiql-editor-tool .monaco-editor').filter({ visible: true });
    await paste(page, headersEditor, `{"Authorization": "Bearer ${task.token}"}`);
    await paste(page, queryEditor, task.query);
    await page.getByRole('button', { name: /^Prettify query/ }).click(); // the headers too
    record.headersText = await visibleText(headersEditor.locator('.view-lines'));
    record.queryText = await visibleText(queryEditor.locator('.view-lines'));

    // Before the token, GraphiQL's schema request was refused, and the answer pane says so.
    const response = page.locator('.graphiql-response .view-lines');
    const before = await visibleText(response);
    await page.locator('.graphiql-execute-button').click();
    await page.waitForFunction(
      (previous) => {
        const text = document.querySelector('.graphiql-response .view-lines')?.innerText ?? '';
        return text !== previous && text.includes('"data"');
      },
      before.replace(/ /g, '\u00a0'),
      WAIT,
    );
    record.responseText = await visibleText(response);

    // The schema, fetched again now that the headers carry the token, fills the docs.
    await page.getByRole('button', { name: /^Re-fetch GraphQL schema/ }).click();
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().waitFor(WAIT);
    record.docsText = await docs.innerText();
    await page.getByRole('button', { name: 'Show GraphiQL Explorer' }).click();
    const explorer = page.locator('.graphiql-explorer-root');
    await explorer.getByText('certificates', { exact: true }).first().waitFor(WAIT);
    record.explorerText = await explorer.innerText();
    await headersEditor.locator('.view-lines').click();
    await page.keyboard.press('ControlOrMeta+Home'); // the headers from their start, for the picture
    if (task.screenshot) await page.screenshot({ path: task.screenshot });

    record.storage = await page.evaluate(() => ({
      local: Object.fromEntries(Object.entries(window.localStorage)),
      session: Object.fromEntries(Object.entries(window.sessionStorage)),
      href: window.location.href,
      cookie: document.cookie,
    }));
    await page.getByRole('button', { name: /settings/i }).click();
    record.persistToggleOffered = await page.getByText('Persist headers').isVisible();
  },
  { failureScreenshot: task.failureScreenshot },
);
