// graphql-http's auditServer (the reference implementation's GraphQL over HTTP compliance
// audits) against a running certreissue: `node audit/run.mjs URL` with the bearer token in
// AUDIT_TOKEN. Every audit request carries `Authorization: Bearer <token>`, as every call to
// the service must (R26): auditServer sends its requests through `fetchFn`, which adds it.
//
// Prints every result (ok, notice, warn, error) with the reason and the answer of each one
// that did not pass, then the counts; `--json FILE` also writes the results there. Exits 1
// when any audit warns or errs, 2 when the audit itself could not run.

import { writeFileSync } from 'node:fs';
import { auditServer } from 'graphql-http';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const url = args[0];
const token = process.env.AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: AUDIT_TOKEN=<bearer token> node audit/run.mjs http://127.0.0.1:PORT/graphql [--json FILE]');
  process.exit(2);
}

function withToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

async function describe(response) {
  if (!response) return null;
  let body = '';
  try {
    body = (await response.clone().text()).slice(0, 300);
  } catch {
    body = '(body already read)';
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body };
}

const results = await auditServer({ url, fetchFn: withToken });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const report = [];
for (const result of results) {
  counts[result.status] += 1;
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.response = await describe(result.response);
  }
  report.push(entry);
  const mark = { ok: 'ok    ', notice: 'NOTICE', warn: 'WARN  ', error: 'ERROR ' }[result.status];
  console.log(`${mark} ${result.id} ${result.name}`);
  if (entry.reason) {
    console.log(`         ${entry.reason}; got ${entry.response?.status} ${entry.response?.contentType}: ${entry.response?.body}`);
  }
}
console.log(`\n${results.length} audits: ${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} errors`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ counts, results: report }, null, 2));
process.exit(counts.warn + counts.error > 0 ? 1 : 0);
