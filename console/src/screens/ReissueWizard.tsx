// The reissue wizard, in the order of the provider's console guide: where the CSR comes
// from, the domain, the algorithm and its key length or curve, the key password (with the
// guide's two warnings), the reason; then a preview (previewReissue: what the reissue will
// require, and what the API would refuse) before anything is submitted (R12).
import { type FormEvent, type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { CsrSource, KeyAlgorithm, ReissueFlow, RequestReissueInput, ValidationMethod } from '../gql/graphql';
import { keepKey } from '../keys';
import { PreviewReissue, RequestReissue, WizardCertificate } from '../operations';
import { Link, navigate } from '../router';
import {
  CSR_SOURCE_TEXT,
  ErrorList,
  FLOW_TEXT,
  FormErrors,
  Loading,
  PageHeading,
  RequestFailed,
  Select,
  TextArea,
  TextField,
  Time,
  type UserError,
  WAIVER_TEXT,
  errorsAt,
  fieldKey,
} from '../ui';

type Step = 'source' | 'domain' | 'algorithm' | 'password' | 'reason' | 'preview';
const STEPS: { step: Step; label: string }[] = [
  { step: 'source', label: 'CSR source' },
  { step: 'domain', label: 'Domain' },
  { step: 'algorithm', label: 'Algorithm' },
  { step: 'password', label: 'Key password' },
  { step: 'reason', label: 'Reason' },
  { step: 'preview', label: 'Preview and submit' },
];
/** Where each input field of RequestReissueInput is chosen. */
const FIELD_STEP: Record<string, Step> = {
  'input.csrSource': 'source',
  'input.csrPem': 'source',
  'input.domain': 'domain',
  'input.validationMethod': 'domain',
  'input.keyAlgorithm': 'algorithm',
  'input.keyParameter': 'algorithm',
  'input.privateKeyPassword': 'password',
  'input.organizationName': 'reason',
  'input.reason': 'reason',
};
const PARAMETERS: Record<KeyAlgorithm, string[]> = {
  RSA: ['2048', '3072', '4096'],
  ECC: ['prime256v1', 'secp384r1'],
  SM2: ['sm2p256v1'],
};

interface Choices {
  csrSource: CsrSource;
  csrPem: string;
  domain: string;
  validationMethod: '' | ValidationMethod;
  keyAlgorithm: KeyAlgorithm;
  keyParameter: string;
  password: string;
  passwordConfirm: string;
  organizationName: string;
  reason: string;
}

interface Certificate {
  id: string;
  domain: string;
  subjectAltNames: string[];
  brand: string;
  keyAlgorithm: KeyAlgorithm;
  keyParameter: string;
  validationMethod: ValidationMethod;
  organization?: { name: string } | null;
}

const isOrganization = (flow: ReissueFlow) => flow === 'ORGANIZATION_WOTRUS_DNSPOD' || flow === 'ORGANIZATION_OTHER_BRAND';

function applies(step: Step, choices: Choices): boolean {
  return choices.csrSource === 'ONLINE' || (step !== 'algorithm' && step !== 'password');
}

/** The API input for these choices. For the preview, the password is replaced by a
 * stand-in of the same length: the preview checks its length and whether one may be given,
 * and the password itself is sent once, with the request. */
function toInput(certificate: Certificate, flow: ReissueFlow, c: Choices, forPreview: boolean): RequestReissueInput {
  const input: RequestReissueInput = { certificateId: certificate.id, csrSource: c.csrSource, domain: c.domain };
  if (c.csrSource === 'UPLOAD') input.csrPem = c.csrPem;
  if (c.validationMethod && flow !== 'FREE_DV') input.validationMethod = c.validationMethod;
  if (c.csrSource === 'ONLINE') {
    input.keyAlgorithm = c.keyAlgorithm;
    input.keyParameter = c.keyParameter;
    if (c.password) input.privateKeyPassword = forPreview ? '*'.repeat(c.password.length) : c.password;
  }
  if (c.reason.trim()) input.reason = c.reason.trim();
  const organization = c.organizationName.trim();
  if (isOrganization(flow) && organization && organization !== certificate.organization?.name) input.organizationName = organization;
  return input;
}

function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function ReissueWizard({ certificateId }: { certificateId: string }) {
  const [{ data, fetching, error }] = useQuery({ query: WizardCertificate, variables: { id: certificateId }, requestPolicy: 'network-only' });
  const certificate = data?.certificate;
  if (error && !certificate) return <RequestFailed error={error} />;
  if (!certificate) {
    return fetching ? (
      <Loading what="the certificate" />
    ) : (
      <>
        <PageHeading title="Certificate not found">Certificate not found</PageHeading>
        <p>
          <Link to="/certificates">Back to the certificates</Link>
        </p>
      </>
    );
  }
  const eligibility = certificate.reissueEligibility;
  if (!eligibility.eligible) {
    return (
      <>
        <PageHeading title={`Reissue ${certificate.domain}`}>Reissue {certificate.domain}</PageHeading>
        <FormErrors title="This certificate cannot be reissued now" errors={eligibility.reasons} />
        <p>
          <Link to={`/certificates/${encodeURIComponent(certificate.id)}`}>Back to the certificate</Link>
        </p>
      </>
    );
  }
  return <Wizard certificate={certificate} flow={eligibility.flow} />;
}

function Wizard({ certificate, flow }: { certificate: Certificate; flow: ReissueFlow }) {
  const free = flow === 'FREE_DV';
  const algorithms: KeyAlgorithm[] = certificate.brand === 'DNSPOD' ? ['RSA', 'ECC', 'SM2'] : ['RSA', 'ECC'];
  const current = PARAMETERS[certificate.keyAlgorithm]?.includes(certificate.keyParameter) && algorithms.includes(certificate.keyAlgorithm);
  const [choices, setChoices] = useState<Choices>({
    csrSource: free ? 'ONLINE' : 'ORIGINAL',
    csrPem: '',
    domain: certificate.domain,
    validationMethod: '',
    keyAlgorithm: current ? certificate.keyAlgorithm : 'RSA',
    keyParameter: current ? certificate.keyParameter : '2048',
    password: '',
    passwordConfirm: '',
    organizationName: certificate.organization?.name ?? '',
    reason: '',
  });
  const [step, setStep] = useState<Step>('source');
  const [errors, setErrors] = useState<UserError[]>([]);
  // What the submission was refused for that no step's field can fix (FORBIDDEN for a viewer,
  // a lock taken meanwhile): shown on the preview step, where the user pressed Submit.
  const [problems, setProblems] = useState<UserError[]>([]);
  const [submission, submit] = useMutation(RequestReissue);
  const idempotency = useRef<{ input: string; key: string } | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const visible = STEPS.filter((s) => applies(s.step, choices));
  const index = visible.findIndex((s) => s.step === step);
  const set = (change: Partial<Choices>, paths: string[]) => {
    setChoices((c) => ({ ...c, ...change }));
    setErrors((list) => list.filter((e) => !paths.includes(fieldKey(e.field)))); // edited: its errors are stale
    setProblems([]);
  };
  const go = (to: Step) => {
    setStep(to);
    window.requestAnimationFrame(() => heading.current?.focus());
  };
  const next = (event: FormEvent) => {
    event.preventDefault();
    if (step === 'password' && choices.password !== choices.passwordConfirm) {
      setErrors((list) => [...list.filter((e) => fieldKey(e.field) !== 'confirm'), { code: '', message: 'The two passwords differ.', field: ['confirm'] }]);
      return;
    }
    go(visible[index + 1].step);
  };
  const back = () => go(visible[Math.max(0, index - 1)].step);

  const onPreview = useCallback((found: UserError[]) => setErrors(found), []); // stable: the preview's effect runs once per answer
  const send = async () => {
    const input = toInput(certificate, flow, choices, false);
    const text = JSON.stringify(input);
    if (idempotency.current?.input !== text) idempotency.current = { input: text, key: newKey() }; // a retry of the same input is the same request
    const result = await submit({ input: { ...input, idempotencyKey: idempotency.current.key } });
    const answer = result.data?.requestReissue;
    if (!answer) return;
    if (answer.userErrors.length) {
      setErrors(answer.userErrors);
      setProblems(answer.userErrors.filter((e) => !FIELD_STEP[fieldKey(e.field)]));
      const first = answer.userErrors.map((e) => FIELD_STEP[fieldKey(e.field)]).find(Boolean);
      if (first) go(first);
      return;
    }
    if (answer.reissue) {
      if (answer.privateKeyPem) keepKey(answer.reissue.id, answer.privateKeyPem);
      navigate(`/reissues/${encodeURIComponent(answer.reissue.id)}`);
    }
  };

  const here = (path: string) => errorsAt(errors, path);
  const elsewhere = errors.filter((e) => !FIELD_STEP[fieldKey(e.field)] && fieldKey(e.field) !== 'confirm');
  const title = `Reissue ${certificate.domain}`;
  const label = visible[index]?.label ?? '';

  return (
    <>
      <p className="crumbs">
        <Link to="/certificates">Certificates</Link> / <Link to={`/certificates/${encodeURIComponent(certificate.id)}`}>{certificate.domain}</Link> /
      </p>
      <PageHeading title={title}>{title}</PageHeading>
      <p className="muted">{FLOW_TEXT[flow]} certificate.</p>
      <nav aria-label="Reissue steps">
        <ol className="steps">
          {visible.map((s, i) => (
            <li key={s.step} aria-current={s.step === step ? 'step' : undefined} className={i < index ? 'done' : undefined}>
              {s.label}
            </li>
          ))}
        </ol>
      </nav>
      {step !== 'preview' ? <FormErrors errors={elsewhere} /> : null}
      <section className="step" aria-labelledby="step-heading">
        <h2 id="step-heading" ref={heading} tabIndex={-1}>
          Step {index + 1} of {visible.length}: {label}
        </h2>
        {step === 'preview' ? (
          <Preview
            certificate={certificate}
            flow={flow}
            choices={choices}
            onErrors={onPreview}
            onChange={go}
            onBack={back}
            onSubmit={send}
            problems={problems}
            submitting={submission.fetching}
            failure={submission.error}
          />
        ) : (
          <form onSubmit={next} noValidate>
            {step === 'source' ? (
              <>
                <fieldset aria-describedby={here('input.csrSource').length ? 'csr-source-errors' : undefined}>
                  <legend>Where does the new CSR come from?</legend>
                  {(['ORIGINAL', 'ONLINE', 'UPLOAD'] as CsrSource[]).map((source) => (
                    <div className="choice" key={source}>
                      <input
                        type="radio"
                        id={`csr-${source}`}
                        name="csrSource"
                        value={source}
                        checked={choices.csrSource === source}
                        disabled={free && source !== 'ONLINE'}
                        onChange={() => set({ csrSource: source }, ['input.csrSource', 'input.csrPem'])}
                      />
                      <label htmlFor={`csr-${source}`}>
                        {source === 'ORIGINAL'
                          ? "Use the original certificate's CSR (the key stays the same)"
                          : source === 'ONLINE'
                            ? 'Generate a CSR online (the service makes a new key pair)'
                            : 'Paste an existing CSR'}
                      </label>
                    </div>
                  ))}
                  {free ? <p className="hint">A free DV certificate is reissued with a CSR generated online.</p> : null}
                  <ErrorList id="csr-source-errors" errors={here('input.csrSource')} />
                </fieldset>
                {choices.csrSource === 'UPLOAD' ? (
                  <TextArea
                    label="CSR (PEM)"
                    hint="From -----BEGIN CERTIFICATE REQUEST----- to -----END CERTIFICATE REQUEST-----; RSA 2048+ or ECC P-256/P-384, naming the domain."
                    errors={here('input.csrPem')}
                    name="csrPem"
                    rows={8}
                    spellCheck={false}
                    value={choices.csrPem}
                    onChange={(e) => set({ csrPem: e.target.value }, ['input.csrPem'])}
                  />
                ) : null}
              </>
            ) : null}
            {step === 'domain' ? (
              <>
                <Select
                  label="Domain to bind"
                  hint={free ? 'A free DV certificate keeps its bound domain.' : 'One domain: the bound domain or another name on the certificate.'}
                  errors={here('input.domain')}
                  name="domain"
                  value={choices.domain}
                  disabled={free}
                  onChange={(e) => set({ domain: e.target.value }, ['input.domain'])}
                >
                  {[certificate.domain, ...certificate.subjectAltNames.filter((n) => n !== certificate.domain)].map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </Select>
                {free ? (
                  <p className="hint">Domain validation uses the method of the original application ({certificate.validationMethod}).</p>
                ) : (
                  <Select
                    label="Domain validation method, if validation is needed"
                    errors={here('input.validationMethod')}
                    name="validationMethod"
                    value={choices.validationMethod}
                    onChange={(e) => set({ validationMethod: e.target.value as Choices['validationMethod'] }, ['input.validationMethod'])}
                  >
                    <option value="">As in the original application ({certificate.validationMethod})</option>
                    <option value="DNS">DNS: a TXT record</option>
                    <option value="FILE">File: a file on the web server</option>
                  </Select>
                )}
              </>
            ) : null}
            {step === 'algorithm' ? (
              <>
                <Select
                  label="Algorithm"
                  errors={here('input.keyAlgorithm')}
                  name="keyAlgorithm"
                  value={choices.keyAlgorithm}
                  onChange={(e) => {
                    const algorithm = e.target.value as KeyAlgorithm;
                    set({ keyAlgorithm: algorithm, keyParameter: PARAMETERS[algorithm][0] }, ['input.keyAlgorithm', 'input.keyParameter']);
                  }}
                >
                  {algorithms.map((a) => (
                    <option key={a} value={a}>
                      {a}
                    </option>
                  ))}
                </Select>
                <Select
                  label={choices.keyAlgorithm === 'RSA' ? 'Key length (bits)' : 'Curve'}
                  errors={here('input.keyParameter')}
                  name="keyParameter"
                  value={choices.keyParameter}
                  onChange={(e) => set({ keyParameter: e.target.value }, ['input.keyParameter'])}
                >
                  {PARAMETERS[choices.keyAlgorithm].map((p) => (
                    <option key={p} value={p}>
                      {p}
                    </option>
                  ))}
                </Select>
              </>
            ) : null}
            {step === 'password' ? (
              <>
                <div className="warning" id="password-warnings">
                  <p>
                    <strong>The password cannot be recovered.</strong> The service never stores it: keep it with the key, or the key
                    is lost.
                  </p>
                  <p>
                    <strong>A password-protected key cannot be deployed to cloud load balancers or CDNs.</strong> To deploy the
                    certificate there, leave the password empty.
                  </p>
                </div>
                <TextField
                  label="Key password (optional)"
                  hint="4 to 1,024 characters; the key is then returned encrypted (PKCS#8)."
                  errors={here('input.privateKeyPassword')}
                  type="password"
                  name="privateKeyPassword"
                  autoComplete="new-password"
                  value={choices.password}
                  onChange={(e) => set({ password: e.target.value }, ['input.privateKeyPassword', 'confirm'])}
                />
                <TextField
                  label="Key password again"
                  errors={here('confirm')}
                  type="password"
                  name="privateKeyPasswordConfirm"
                  autoComplete="new-password"
                  value={choices.passwordConfirm}
                  onChange={(e) => set({ passwordConfirm: e.target.value }, ['confirm'])}
                />
              </>
            ) : null}
            {step === 'reason' ? (
              <>
                {isOrganization(flow) ? (
                  <TextField
                    label="Organization"
                    hint={`On file: ${certificate.organization?.name ?? 'none'}. Another name needs a manual review${flow === 'ORGANIZATION_OTHER_BRAND' ? " besides the CA's verification" : ''}.`}
                    errors={here('input.organizationName')}
                    name="organizationName"
                    value={choices.organizationName}
                    onChange={(e) => set({ organizationName: e.target.value }, ['input.organizationName'])}
                  />
                ) : null}
                <TextField
                  label={free ? 'Reason (optional)' : 'Reason'}
                  hint="In brief, 1 to 200 characters: “key compromised”, “server moved”."
                  errors={here('input.reason')}
                  name="reason"
                  maxLength={200}
                  value={choices.reason}
                  onChange={(e) => set({ reason: e.target.value }, ['input.reason'])}
                />
              </>
            ) : null}
            <StepButtons onBack={index > 0 ? back : undefined}>
              <button type="submit">Next</button>
            </StepButtons>
          </form>
        )}
      </section>
    </>
  );
}

function StepButtons({ onBack, children }: { onBack?: () => void; children: ReactNode }) {
  return (
    <div className="buttons">
      {onBack ? (
        <button type="button" className="secondary" onClick={onBack}>
          Back
        </button>
      ) : null}
      {children}
    </div>
  );
}

function Preview({
  certificate,
  flow,
  choices,
  onErrors,
  onChange,
  onBack,
  onSubmit,
  problems,
  submitting,
  failure,
}: {
  certificate: Certificate;
  flow: ReissueFlow;
  choices: Choices;
  onErrors: (errors: UserError[]) => void;
  onChange: (step: Step) => void;
  onBack: () => void;
  onSubmit: () => void;
  problems: UserError[];
  submitting: boolean;
  failure?: { message: string };
}) {
  const input = useMemo(() => toInput(certificate, flow, choices, true), [certificate, flow, choices]);
  const [{ data, fetching, error }] = useQuery({ query: PreviewReissue, variables: { input }, requestPolicy: 'network-only' });
  const preview = data?.previewReissue;
  useEffect(() => {
    if (preview) onErrors([...preview.userErrors]);
  }, [preview, onErrors]);

  if (error) return <RequestFailed error={error} />;
  if (!preview || fetching) return <Loading what="the preview" />;
  const blocked = !preview.eligibility.eligible || preview.userErrors.length > 0;
  const method = choices.validationMethod || certificate.validationMethod;
  return (
    <>
      {preview.userErrors.length ? (
        <div className="alert" role="alert">
          <p className="alert-title">The API would refuse this reissue</p>
          <ul className="field-errors">
            {preview.userErrors.map((e, i) => {
              const step = FIELD_STEP[fieldKey(e.field)];
              return (
                <li key={i} data-code={e.code}>
                  {e.message} <span className="code">({e.code})</span>{' '}
                  {step ? (
                    <button type="button" className="linkish" onClick={() => onChange(step)}>
                      Change {STEPS.find((s) => s.step === step)?.label.toLowerCase()}
                    </button>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </div>
      ) : null}
      <h3>What this reissue will require</h3>
      <ul className="requirements">
        <li data-requirement="domain-validation">
          {preview.domainValidationRequired
            ? `Domain validation of ${choices.domain} by ${method === 'FILE' || method === 'FILE_AUTO' ? 'a file on its web server' : 'a DNS TXT record'}, after you submit.`
            : 'No domain validation.'}
        </li>
        <li data-requirement="manual-review">{preview.manualReviewRequired ? 'A manual review by our reviewers.' : 'No manual review.'}</li>
        {flow === 'ORGANIZATION_OTHER_BRAND' ? (
          <li data-requirement="ca-verification">The CA verifies your identity offline: watch for its emails and phone calls.</li>
        ) : null}
        {preview.waivers.map((w) => (
          <li key={w} data-waiver={w}>
            {WAIVER_TEXT[w] ?? w}
          </li>
        ))}
        {preview.waiversUnavailableReason ? <li>No waiver applies: {preview.waiversUnavailableReason}</li> : null}
        <li>
          The new certificate is valid until <Time value={preview.notAfter} />
          {preview.notAfterCapped ? ', earlier than the current one: a public CA may not issue it for longer.' : ', as the current one (a reissue does not renew).'}
        </li>
      </ul>
      <h3>Your choices</h3>
      <dl className="facts">
        <dt>CSR</dt>
        <dd>{CSR_SOURCE_TEXT[choices.csrSource]}</dd>
        <dt>Domain</dt>
        <dd>{choices.domain}</dd>
        {choices.csrSource === 'ONLINE' ? (
          <>
            <dt>Key</dt>
            <dd>
              {choices.keyAlgorithm} {choices.keyParameter}, {choices.password ? 'protected by your password' : 'without a password'}
            </dd>
          </>
        ) : null}
        {isOrganization(flow) ? (
          <>
            <dt>Organization</dt>
            <dd>{choices.organizationName || certificate.organization?.name || '—'}</dd>
          </>
        ) : null}
        <dt>Reason</dt>
        <dd>{choices.reason.trim() || '—'}</dd>
      </dl>
      {!preview.eligibility.eligible && !preview.userErrors.length ? <FormErrors title="This certificate cannot be reissued now" errors={preview.eligibility.reasons} /> : null}
      <FormErrors title="The reissue was not submitted" errors={problems} />
      {failure ? <RequestFailed error={failure} /> : null}
      <StepButtons onBack={onBack}>
        <button type="button" onClick={onSubmit} disabled={blocked || submitting}>
          {submitting ? 'Submitting…' : 'Submit reissue'}
        </button>
      </StepButtons>
    </>
  );
}
