// One reissue: the private key generated for it (shown once), the domain validation step
// (the challenge with copy buttons, "Validate now" and the diagnosis as the API words it),
// what it waits for, and its history. It follows the reissue live over the WebSocket:
// a reviewer's approval or a validation done elsewhere shows here by itself.
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { dropKey, takeKey } from '../keys';
import { CancelReissue, CheckDomainValidation, ReissueDetail, ReissueLive, RemindReviewer } from '../operations';
import { Link } from '../router';
import {
  CSR_SOURCE_TEXT,
  CopyButton,
  FLOW_TEXT,
  FormErrors,
  Loading,
  PageHeading,
  RequestFailed,
  STATUS_TEXT,
  StatusBadge,
  Time,
  type UserError,
  WAIVER_TEXT,
  download,
} from '../ui';
import { LiveNote } from './Live';

const ACTIVE = ['PENDING_DOMAIN_VALIDATION', 'PENDING_MANUAL_REVIEW', 'PENDING_CA_VERIFICATION'];

export function ReissuePage({ id, staff }: { id: string; staff: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ReissueDetail, variables: { id } });
  const [live] = useSubscription({ query: ReissueLive, variables: { id } });
  const reissue = data?.reissue;

  if (error && !reissue) return <RequestFailed error={error} />;
  if (!reissue) {
    return fetching ? (
      <Loading what="the reissue" />
    ) : (
      <>
        <PageHeading title="Reissue not found">Reissue not found</PageHeading>
        <p>
          No reissue <code>{id}</code> here. <Link to={staff ? '/review' : '/certificates'}>Back</Link>
        </p>
      </>
    );
  }
  const certificate = reissue.certificate;
  const validation = reissue.domainValidation;
  return (
    <>
      <p className="crumbs">
        {staff ? (
          <Link to="/review">Review queue</Link>
        ) : (
          <>
            <Link to="/certificates">Certificates</Link> / <Link to={`/certificates/${encodeURIComponent(certificate.id)}`}>{certificate.domain}</Link>
          </>
        )}{' '}
        /
      </p>
      <PageHeading title={`Reissue of ${certificate.domain}`}>Reissue of {certificate.domain}</PageHeading>
      <LiveNote active={!!live.data} error={live.error} onRefresh={() => refetch({ requestPolicy: 'network-only' })} />
      <p className="status-line" aria-live="polite" aria-atomic="true" id="reissue-status">
        Status: <StatusBadge status={reissue.status} />
      </p>

      {!staff ? <OneTimeKey reissueId={reissue.id} domain={reissue.domain} protectedKey={reissue.privateKeyProtected} /> : null}
      {!reissue.deployableToCloudServices ? (
        <p className="warning">The new key is protected by a password: it cannot be deployed to cloud load balancers or CDNs.</p>
      ) : null}

      {validation && reissue.status === 'PENDING_DOMAIN_VALIDATION' && !staff ? (
        <ValidationStep reissueId={reissue.id} domain={reissue.domain} validation={validation} />
      ) : null}
      <WhatNext reissue={reissue} staff={staff} />

      <section aria-labelledby="facts">
        <h2 id="facts">This reissue</h2>
        <dl className="facts">
          <dt>Certificate</dt>
          <dd>
            <Link to={`/certificates/${encodeURIComponent(certificate.id)}`}>{certificate.domain}</Link>
            {certificate.organization ? `, ${certificate.organization.name}` : ''}
          </dd>
          <dt>Type</dt>
          <dd>{FLOW_TEXT[reissue.flow]}</dd>
          <dt>Domain</dt>
          <dd>{reissue.domain}</dd>
          <dt>CSR</dt>
          <dd>{CSR_SOURCE_TEXT[reissue.csrSource]}</dd>
          <dt>Key</dt>
          <dd>
            {reissue.keyAlgorithm} {reissue.keyParameter}
            {reissue.privateKeyProtected ? ', password-protected' : ''}
          </dd>
          <dt>Reason</dt>
          <dd>{reissue.reason ?? '—'}</dd>
          <dt>Waived</dt>
          <dd>{reissue.waivers.length ? reissue.waivers.map((w) => WAIVER_TEXT[w] ?? w).join('; ') : 'Nothing'}</dd>
          <dt>New certificate valid until</dt>
          <dd>
            <Time value={reissue.notAfter} />
            {reissue.notAfterCapped ? ' (shortened: a public CA may not issue it for longer)' : ''}
          </dd>
          <dt>Requested</dt>
          <dd>
            <Time value={reissue.createdAt} />
          </dd>
          <dt>{ACTIVE.includes(reissue.status) ? 'Expires if not completed' : 'Completed'}</dt>
          <dd>
            <Time value={ACTIVE.includes(reissue.status) ? reissue.expiresAt : reissue.completedAt} />
          </dd>
        </dl>
      </section>

      <section aria-labelledby="events">
        <h2 id="events">History</h2>
        <ol className="events">
          {reissue.events.map((e, i) => (
            <li key={i}>
              <Time value={e.at} /> — {e.from ? `${STATUS_TEXT[e.from] ?? e.from} → ` : ''}
              {STATUS_TEXT[e.to] ?? e.to}, by {e.actor}
              {e.note ? `: ${e.note}` : ''}
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}

/** The generated key, from the requestReissue answer, shown once: it is in memory only,
 * gone after "I have saved it", a reload or signing out. */
function OneTimeKey({ reissueId, domain, protectedKey }: { reissueId: string; domain: string; protectedKey: boolean }) {
  const [pem, setPem] = useState(() => takeKey(reissueId));
  useEffect(() => () => dropKey(reissueId), [reissueId]); // leaving the page forgets it
  if (!pem) return null;
  const dismiss = () => {
    dropKey(reissueId);
    setPem(undefined);
  };
  return (
    <section className="key" aria-labelledby="key-heading">
      <h2 id="key-heading">Your new private key</h2>
      <p>
        <strong>It is shown this once.</strong> Download it or copy it now: the console forgets it when you leave this page, and
        the API does not show it again.
        {protectedKey ? ' It is encrypted with your password (PKCS#8).' : ''}
      </p>
      <pre className="pem" id="private-key" tabIndex={0} aria-label="Private key (PEM)">
        {pem}
      </pre>
      <div className="buttons">
        <button type="button" onClick={() => download(`${domain.replace('*', 'wildcard')}.key.pem`, pem)}>
          Download private key
        </button>
        <CopyButton text={pem} label="Copy private key" fallbackId="private-key" />
        <button type="button" className="secondary" onClick={dismiss}>
          I have saved it
        </button>
      </div>
    </section>
  );
}

interface Validation {
  method: string;
  status: string;
  dns?: { name: string; type: string; value: string } | null;
  file?: { url: string; path: string; content: string } | null;
  lastCheckedAt?: string | null;
  lastError?: string | null;
}

function ValidationStep({ reissueId, domain, validation }: { reissueId: string; domain: string; validation: Validation }) {
  const [check, run] = useMutation(CheckDomainValidation);
  const [errors, setErrors] = useState<UserError[]>([]);
  const validate = async () => {
    const result = await run({ id: reissueId });
    setErrors([...(result.data?.checkDomainValidation.userErrors ?? [])]);
  };
  return (
    <section className="validation" aria-labelledby="validation-heading">
      <h2 id="validation-heading">Validate the domain</h2>
      {validation.dns ? (
        <>
          <p>
            At the DNS provider of <strong>{domain}</strong>, add this record, then press <em>Validate now</em>:
          </p>
          <dl className="challenge">
            <dt>Name</dt>
            <dd>
              <code id="dns-name">{validation.dns.name}</code> <CopyButton text={validation.dns.name} label="Copy name" fallbackId="dns-name" />
            </dd>
            <dt>Type</dt>
            <dd>
              <code>{validation.dns.type}</code>
            </dd>
            <dt>Value</dt>
            <dd>
              <code id="dns-value">{validation.dns.value}</code> <CopyButton text={validation.dns.value} label="Copy value" fallbackId="dns-value" />
            </dd>
          </dl>
        </>
      ) : null}
      {validation.file ? (
        <>
          <p>
            On the web server of <strong>{domain}</strong>, serve this file over plain HTTP, then press <em>Validate now</em>:
          </p>
          <dl className="challenge">
            <dt>Address</dt>
            <dd>
              <code id="file-url">{validation.file.url}</code> <CopyButton text={validation.file.url} label="Copy address" fallbackId="file-url" />
            </dd>
            <dt>Content</dt>
            <dd>
              <code id="file-content">{validation.file.content}</code>{' '}
              <CopyButton text={validation.file.content} label="Copy content" fallbackId="file-content" />{' '}
              <button type="button" className="secondary small" onClick={() => download('fileauth.txt', validation.file!.content, 'text/plain')}>
                Download fileauth.txt
              </button>
            </dd>
          </dl>
        </>
      ) : null}
      {!validation.dns && !validation.file ? <p>The service places the {validation.method === 'DNS_AUTO' ? 'record' : 'file'} itself; validate when it is in place.</p> : null}
      <div className="buttons">
        <button type="button" onClick={validate} disabled={check.fetching}>
          {check.fetching ? 'Checking…' : 'Validate now'}
        </button>
      </div>
      <div role="status" className="diagnosis">
        {validation.lastCheckedAt ? (
          <>
            <p>
              Last checked <Time value={validation.lastCheckedAt} />
              {validation.lastError ? ': not validated yet.' : '.'}
            </p>
            {validation.lastError ? <p className="diagnosis-text">{validation.lastError}</p> : null}
          </>
        ) : (
          <p className="muted">Not checked yet.</p>
        )}
      </div>
      {check.error ? <RequestFailed error={check.error} /> : null}
      <FormErrors errors={errors} />
    </section>
  );
}

interface Summary {
  id: string;
  status: string;
  flow: string;
  certificate: { id: string; domain: string };
}

function WhatNext({ reissue, staff }: { reissue: Summary; staff: boolean }) {
  const [cancel, runCancel] = useMutation(CancelReissue);
  const [remind, runRemind] = useMutation(RemindReviewer);
  const [errors, setErrors] = useState<UserError[]>([]);
  const [said, setSaid] = useState('');
  const active = ACTIVE.includes(reissue.status);
  const doCancel = async () => {
    if (!window.confirm('Cancel this reissue? The certificate stays as it is.')) return;
    const result = await runCancel({ id: reissue.id });
    setErrors([...(result.data?.cancelReissue.userErrors ?? [])]);
  };
  const doRemind = async () => {
    const result = await runRemind({ id: reissue.id });
    const found = result.data?.remindReviewer.userErrors ?? [];
    setErrors([...found]);
    setSaid(found.length ? '' : 'The reviewers were reminded.');
  };
  return (
    <section aria-labelledby="next-heading">
      <h2 id="next-heading">What happens next</h2>
      {reissue.status === 'PENDING_DOMAIN_VALIDATION' ? <p>The reissue goes on once the domain is validated.</p> : null}
      {reissue.status === 'PENDING_MANUAL_REVIEW' ? <p>A reviewer checks the re-application; this page updates when they decide.</p> : null}
      {reissue.status === 'PENDING_CA_VERIFICATION' ? (
        <p>The CA verifies the applicant's identity offline: watch for its emails and phone calls. This page updates when it confirms.</p>
      ) : null}
      {reissue.status === 'ISSUED' ? (
        <p>
          The new certificate is issued.{' '}
          {!staff ? <Link to={`/certificates/${encodeURIComponent(reissue.certificate.id)}`}>See its versions</Link> : null}
        </p>
      ) : null}
      {!active && reissue.status !== 'ISSUED' ? <p>This reissue ended without a new certificate.</p> : null}
      {active && !staff ? (
        <div className="buttons">
          {reissue.status === 'PENDING_MANUAL_REVIEW' ? (
            <button type="button" className="secondary" onClick={doRemind} disabled={remind.fetching}>
              Remind the reviewers
            </button>
          ) : null}
          <button type="button" className="danger" onClick={doCancel} disabled={cancel.fetching}>
            Cancel this reissue
          </button>
        </div>
      ) : null}
      {said ? <p role="status">{said}</p> : null}
      <FormErrors errors={errors} />
    </section>
  );
}
