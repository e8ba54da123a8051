// A refused token at its field, a userError at its field, and signing out. The owner pastes something that is not a
// CSR: the preview reports the API's INVALID_CSR, the submit button stays disabled, and
// "Change" leads back to the CSR field, which shows the error next to it (aria-invalid,
// aria-describedby). Then the owner signs out: the token leaves session storage, the
// cache goes with the client, the console asks for a token again, and no request carries
// the token any more.
// Task: {url, token, badToken, certificateId, failureScreenshot}.

import { WAIT, axe, personContext, readTask, signIn, storage, withBrowser } from './browser.mjs';

const task = await readTask();

await withBrowser(task, async (browser, record) => {
  const { page, seen } = await personContext(browser, record, 'owner', task.url);
  await page.goto(`${task.url}/console/certificates/${encodeURIComponent(task.certificateId)}/reissue`, WAIT);
  // A token the API refuses: said at the token field, nothing stored.
  await page.getByLabel('API token').fill(task.badToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const tokenField = page.locator('.field', { has: page.getByLabel('API token') });
  await tokenField.locator('.field-errors li').waitFor(WAIT);
  record.badToken = {
    text: await tokenField.locator('.field-errors').innerText(),
    invalid: await page.getByLabel('API token').getAttribute('aria-invalid'),
    storage: await storage(page),
  };
  await axe(page, record, 'sign in: a refused token');
  await signIn(page, task.url, task.token);
  record.storageSignedIn = await storage(page);
  await page.locator('#step-heading', { hasText: 'CSR source' }).waitFor(WAIT);
  await page.getByLabel('Paste an existing CSR').check();
  await page.getByLabel('CSR (PEM)').fill('-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#step-heading', { hasText: 'Domain' }).waitFor(WAIT);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#step-heading', { hasText: 'Reason' }).waitFor(WAIT);
  record.stepsShown = await page.locator('ol.steps li').allInnerTexts(); // no algorithm or password for a pasted CSR
  await page.getByLabel('Reason', { exact: true }).fill('new server');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('.alert', { hasText: 'The API would refuse this reissue' }).waitFor(WAIT);
  record.preview = {
    alert: await page.locator('.alert').first().innerText(),
    submitDisabled: await page.getByRole('button', { name: 'Submit reissue' }).isDisabled(),
  };
  await axe(page, record, 'wizard: preview with a userError');
  await page.getByRole('button', { name: /^Change csr source/ }).click();
  await page.locator('#step-heading', { hasText: 'CSR source' }).waitFor(WAIT);
  const csr = page.getByLabel('CSR (PEM)');
  const field = page.locator('.field', { has: csr });
  const describedBy = (await csr.getAttribute('aria-describedby')) ?? '';
  const errorsId = describedBy.split(' ').find((id) => id.endsWith('-errors'));
  record.fieldError = {
    text: await field.locator('.field-errors').innerText(),
    codes: await field.locator('.field-errors li').evaluateAll((items) => items.map((li) => li.dataset.code)),
    invalid: await csr.getAttribute('aria-invalid'),
    describedBy: errorsId ? await page.locator(`[id="${errorsId}"]`).innerText() : null,
  };
  await axe(page, record, 'wizard: CSR source with its field error');
  await csr.fill('edited');
  record.fieldErrorAfterEdit = await field.locator('.field-errors').count();

  // Signing out.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Certificates' }).click();
  await page.locator('table.certificates tbody tr').first().waitFor(WAIT);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor(WAIT);
  const signedOutAt = seen.requests.length;
  const postsBefore = seen.graphqlPosts.length;
  record.signedOut = { notice: await page.locator('.notice').innerText(), storage: await storage(page) };
  await page.goBack();
  await page.waitForTimeout(300);
  record.signedOut.afterBack = await page.locator('h1').innerText();
  await page.goto(`${task.url}/console/certificates`, WAIT);
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor(WAIT);
  record.signedOut.afterReload = await page.locator('h1').innerText();
  record.signedOut.tableShown = await page.locator('table').count();
  record.signedOut.requestsAfter = seen.requests.slice(signedOutAt);
  record.signedOut.tokenPostsAfter = seen.graphqlPosts.slice(postsBefore).filter((p) => p.authorization).length;
  record.signedOut.storageAfterReload = await storage(page);
  await axe(page, record, 'sign in after signing out');
});
