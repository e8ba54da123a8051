// A PAID_DV reissue through the console as its owner would do it, DNS validation included:
// sign in, the certificate list (pages, filter), the certificate, the wizard's steps in
// the guide's order, the preview, the submission, the private key shown once (downloaded),
// the validation step (copy, "Validate now" failing with the API's diagnosis, the TXT
// record added, "Validate now" again), the certificate's second version.
// Task: {url, token, domain, records, pageSize?, screenshots: {list, wizard, validation}, failureScreenshot}.
// `records` is the test DNS server's records file: the driver adds the TXT record there,
// as the user would at their DNS provider.

import { appendFileSync, readFileSync } from 'node:fs';
import { WAIT, axe, idle, personContext, readTask, shownStatus, signIn, storage, withBrowser } from './browser.mjs';

const task = await readTask();

await withBrowser(task, async (browser, record) => {
  const { page, seen } = await personContext(browser, record, 'owner', task.url);
  record.idle = {};
  await page.goto(`${task.url}/console/`, WAIT);
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor(WAIT);
  await axe(page, record, 'sign in');
  await signIn(page, task.url, task.token);

  // The list: a page, the next one, back, a filter.
  await page.getByRole('heading', { name: 'Certificates', level: 1 }).waitFor(WAIT);
  const rows = page.locator('table.certificates tbody tr');
  await rows.first().waitFor(WAIT);
  record.list = { firstPage: await rows.count(), summary: await page.locator('.summary').innerText() };
  await axe(page, record, 'certificate list');
  if (task.screenshots?.list) await page.screenshot({ path: task.screenshots.list });
  if (task.pageSize) {
    // (without pageSize, for the README's screenshots of the demo data: one page)
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText(`Certificates ${task.pageSize + 1}–`).waitFor(WAIT);
    record.list.secondPage = await rows.count();
    record.list.secondSummary = await page.locator('.summary').innerText();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Certificates 1–').waitFor(WAIT);
  }
  await page.getByLabel('Domain contains').fill(task.domain);
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByText(/Certificates 1–1 of 1$/).waitFor(WAIT);
  record.list.filtered = await rows.allInnerTexts();

  // The certificate.
  await page.getByRole('link', { name: task.domain, exact: true }).click();
  await page.getByRole('heading', { name: task.domain, level: 1 }).waitFor(WAIT);
  await page.getByRole('heading', { name: 'Versions' }).waitFor(WAIT);
  record.detail = { versions: await page.locator('section[aria-labelledby="versions"] tbody tr').count() };
  await axe(page, record, 'certificate detail');

  // The wizard, step by step.
  await page.getByRole('link', { name: 'Reissue this certificate' }).click();
  const stepHeading = page.locator('#step-heading');
  await stepHeading.waitFor(WAIT);
  record.wizard = { steps: [] };
  const step = async (name) => {
    await page.locator('#step-heading', { hasText: name }).waitFor(WAIT);
    record.wizard.steps.push(await stepHeading.innerText());
    record.wizard.focus ??= [];
    record.wizard.focus.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));
    await axe(page, record, `wizard: ${name}`);
  };
  await step('CSR source');
  await page.getByLabel('Generate a CSR online').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await step('Domain');
  record.wizard.domainOptions = await page.getByLabel('Domain to bind').locator('option').allInnerTexts();
  await page.getByRole('button', { name: 'Next' }).click();
  await step('Algorithm');
  await page.getByLabel('Algorithm', { exact: true }).selectOption('RSA');
  await page.getByLabel('Key length (bits)').selectOption('2048');
  await page.getByRole('button', { name: 'Next' }).click();
  await step('Key password');
  record.wizard.passwordWarnings = await page.locator('#password-warnings').innerText();
  await page.getByRole('button', { name: 'Next' }).click();
  await step('Reason');
  await page.getByLabel('Reason', { exact: true }).fill('key compromised');
  await page.getByRole('button', { name: 'Next' }).click();
  await step('Preview and submit');
  await page.getByRole('heading', { name: 'What this reissue will require' }).waitFor(WAIT);
  record.wizard.requirements = await page.locator('.requirements').innerText();
  await axe(page, record, 'wizard: preview (settled)');
  record.idle.preview = await idle(page, seen);
  if (task.screenshots?.wizard) await page.screenshot({ path: task.screenshots.wizard, fullPage: true });
  await page.getByRole('button', { name: 'Submit reissue' }).click();

  // The reissue: its key, once, and the validation step.
  await page.getByRole('heading', { name: `Reissue of ${task.domain}`, level: 1 }).waitFor(WAIT);
  record.reissuePath = new URL(page.url()).pathname;
  const pem = await page.locator('#private-key').innerText();
  record.key = { shown: pem.startsWith('-----BEGIN PRIVATE KEY-----'), length: pem.length };
  const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.getByRole('button', { name: 'Download private key' }).click()]);
  record.key.downloadName = download.suggestedFilename();
  record.key.downloadMatches = readFileSync(await download.path(), 'utf8') === pem;
  record.status = [await shownStatus(page)];
  const name = await page.locator('#dns-name').innerText();
  const value = await page.locator('#dns-value').innerText();
  record.challenge = { name, value };
  await page.getByRole('button', { name: 'Copy value' }).click();
  await page.getByText('Copied').first().waitFor(WAIT);
  record.challenge.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  await axe(page, record, 'reissue: key and validation step');

  await page.getByRole('button', { name: 'Validate now' }).click();
  await page.locator('.diagnosis-text').waitFor(WAIT);
  record.diagnosis = await page.locator('.diagnosis-text').innerText();
  record.status.push(await shownStatus(page));
  await axe(page, record, 'reissue: diagnosis');
  record.idle.validation = await idle(page, seen);
  if (task.screenshots?.validation) await page.screenshot({ path: task.screenshots.validation, fullPage: true });

  appendFileSync(task.records, `${name} TXT ${value}\n`); // at the "DNS provider"
  await page.getByRole('button', { name: 'Validate now' }).click();
  await page.locator('.status-line [data-status="ISSUED"]').waitFor(WAIT);
  record.status.push(await shownStatus(page));
  record.issuedText = await page.locator('section[aria-labelledby="next-heading"]').innerText();
  await axe(page, record, 'reissue: issued');

  // The certificate again: two versions now, the reissue in its history; the key is gone.
  await page.getByRole('link', { name: 'See its versions' }).click();
  await page.getByRole('heading', { name: 'Versions' }).waitFor(WAIT);
  await page.locator('section[aria-labelledby="versions"] tbody tr').nth(1).waitFor(WAIT);
  record.detail.versionsAfter = await page.locator('section[aria-labelledby="versions"] tbody tr').allInnerTexts();
  record.detail.historyAfter = await page.locator('section[aria-labelledby="history"] tbody tr').allInnerTexts();
  record.detail.statusAfter = await shownStatus(page);
  await page.goBack();
  await page.getByRole('heading', { name: `Reissue of ${task.domain}`, level: 1 }).waitFor(WAIT);
  record.key.shownAgain = await page.locator('#private-key').count();
  record.storage = await storage(page);
});
