// A reissue that needs a manual review (an OV certificate of WoTrus re-applied for under
// another organization, R13), with two people in two browser contexts: the owner submits
// it through the wizard and stays on the reissue's page; a reviewer (staff token) signs in
// elsewhere, tries to reject without a reason (the API's userError at its field), then
// approves. The owner's page is left alone: it must move to "Issued" by itself, from the
// subscription's message over the WebSocket, with no request of its own.
// Then an operator (a third context) confirms the CA's verification of another reissue,
// one of an OV certificate of another brand that the fixture requested through the API.
// Task: {url, ownerToken, reviewerToken, operatorToken, certificateId, domain, organization,
// caDomain, failureScreenshot, screenshots: {review}}.

import { WAIT, axe, personContext, readTask, shownStatus, signIn, withBrowser } from './browser.mjs';

const task = await readTask();
const LIVE_WAIT_MS = 30_000;

await withBrowser(task, async (browser, record) => {
  const owner = await personContext(browser, record, 'owner', task.url);
  const page = owner.page;
  // A deep link: the service answers it with the console, which asks for a token first.
  await page.goto(`${task.url}/console/certificates/${encodeURIComponent(task.certificateId)}/reissue`, WAIT);
  await signIn(page, task.url, task.ownerToken);
  await page.locator('#step-heading', { hasText: 'CSR source' }).waitFor(WAIT);
  record.deepLink = new URL(page.url()).pathname;
  record.defaultSource = await page.locator('input[name="csrSource"]:checked').getAttribute('value');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#step-heading', { hasText: 'Domain' }).waitFor(WAIT);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#step-heading', { hasText: 'Reason' }).waitFor(WAIT);
  record.organizationHint = await page.locator('.field', { has: page.getByLabel('Organization', { exact: true }) }).locator('.hint').innerText();
  await page.getByLabel('Organization', { exact: true }).fill(task.organization);
  await page.getByLabel('Reason', { exact: true }).fill('company renamed');
  await axe(page, record, 'wizard: reason (OV)');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'What this reissue will require' }).waitFor(WAIT);
  record.requirements = await page.locator('.requirements').innerText();
  await page.getByRole('button', { name: 'Submit reissue' }).click();
  await page.getByRole('heading', { name: `Reissue of ${task.domain}`, level: 1 }).waitFor(WAIT);
  await page.locator('.status-line [data-status="PENDING_MANUAL_REVIEW"]').waitFor(WAIT);
  record.ownerStatus = [await shownStatus(page)];
  record.ownerKeyPanel = await page.locator('#private-key').count(); // ORIGINAL CSR: no new key
  // Live updates: the subscription answers first with the current state.
  await page.locator('.live[data-live="on"], .live[data-live="off"]').waitFor(WAIT);
  record.ownerLive = await page.locator('.live').getAttribute('data-live');
  record.ownerLiveText = await page.locator('.live').innerText();
  await axe(page, record, 'reissue: waiting for review');

  // The reviewer, in a browser context of their own.
  const reviewer = await personContext(browser, record, 'reviewer', task.url);
  await reviewer.page.goto(`${task.url}/console/`, WAIT);
  await signIn(reviewer.page, task.url, task.reviewerToken);
  await reviewer.page.getByRole('heading', { name: 'Review queue', level: 1 }).waitFor(WAIT);
  const item = reviewer.page.locator('article', { has: reviewer.page.getByRole('heading', { name: task.domain }) });
  await item.waitFor(WAIT);
  record.queueItem = await item.innerText();
  await axe(reviewer.page, record, 'review queue');
  if (task.screenshots?.review) await reviewer.page.screenshot({ path: task.screenshots.review, fullPage: true });

  await item.getByRole('button', { name: 'Reject' }).click(); // without a reason
  const reasonField = item.locator('.field', { has: reviewer.page.getByLabel('Reason for rejecting') });
  await reasonField.locator('.field-errors li').waitFor(WAIT);
  const reasonInput = item.getByLabel('Reason for rejecting');
  const describedBy = (await reasonInput.getAttribute('aria-describedby')) ?? '';
  record.rejectError = {
    text: await reasonField.locator('.field-errors').innerText(),
    code: await reasonField.locator('.field-errors li').first().getAttribute('data-code'),
    invalid: await reasonInput.getAttribute('aria-invalid'),
    describedByErrors: describedBy.split(' ').some((id) => id.endsWith('-errors')),
  };
  await axe(reviewer.page, record, 'review queue: userError at its field');

  const ownerPostsBefore = owner.seen.graphqlPosts.length;
  const approvedAt = Date.now();
  await item.getByLabel('Comment (optional)').fill('registry checked');
  await item.getByRole('button', { name: 'Approve' }).click();
  await reviewer.page.getByRole('heading', { name: task.domain }).waitFor({ state: 'detached', ...WAIT });
  record.queueAfter = await reviewer.page.locator('.summary').innerText();

  // The owner's page, untouched since: does it show the decision by itself?
  if (record.ownerLive === 'on') {
    try {
      await page.locator('.status-line [data-status="ISSUED"]').waitFor({ timeout: LIVE_WAIT_MS });
      record.ownerSawIssuedAfterMs = Date.now() - approvedAt;
    } catch {
      record.ownerSawIssuedAfterMs = null;
    }
  } else {
    record.ownerSawIssuedAfterMs = null; // no subscription: nothing can tell the page
  }
  record.ownerStatus.push(await shownStatus(page));
  record.ownerPostsSinceApproval = owner.seen.graphqlPosts.length - ownerPostsBefore;
  record.ownerEvents = await page.locator('ol.events').innerText();

  // The operator's queue: the reissue waiting for the CA's verification.
  const operator = await personContext(browser, record, 'operator', task.url);
  await operator.page.goto(`${task.url}/console/`, WAIT);
  await signIn(operator.page, task.url, task.operatorToken);
  await operator.page.getByRole('heading', { name: 'Review queue', level: 1 }).waitFor(WAIT);
  const waiting = operator.page.locator('article', { has: operator.page.getByRole('heading', { name: task.caDomain }) });
  await waiting.waitFor(WAIT);
  record.operatorItem = await waiting.innerText();
  await axe(operator.page, record, 'review queue: CA verification');
  await waiting.getByRole('button', { name: 'Confirm CA verification' }).click();
  await operator.page.getByRole('heading', { name: task.caDomain }).waitFor({ state: 'detached', ...WAIT });
  record.operatorQueueAfter = await operator.page.locator('.summary').innerText();
});
