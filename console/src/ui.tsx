// Shared pieces: headings that take focus, fields with their errors, times, badges,
// copy and download buttons.
import {
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';

export interface UserError {
  /** The API's ErrorCode; empty for the console's own checks (two passwords that differ). */
  code: string;
  message: string;
  field?: readonly string[] | null;
}

export const fieldKey = (field: readonly string[] | null | undefined) => (field ? field.join('.') : '');

/** The errors at `path` ("input.csrPem"). */
export const errorsAt = (errors: readonly UserError[], path: string) => errors.filter((e) => fieldKey(e.field) === path);

/** A screen's <h1>: it takes the focus when the screen opens (a screen reader reads it,
 * the next Tab goes on from it) and names the document. */
export function PageHeading({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · certreissue console`;
    ref.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function ErrorList({ id, errors }: { id?: string; errors: readonly UserError[] }) {
  if (!errors.length) return null;
  return (
    <ul className="field-errors" id={id}>
      {errors.map((e, i) => (
        <li key={i} data-code={e.code || undefined}>
          {e.message} {e.code ? <span className="code">({e.code})</span> : null}
        </li>
      ))}
    </ul>
  );
}

/** Errors that name no field of the form, at the form's top; announced. */
export function FormErrors({ errors, title = 'This could not be done' }: { errors: readonly UserError[]; title?: string }) {
  if (!errors.length) return null;
  return (
    <div className="alert" role="alert">
      <p className="alert-title">{title}</p>
      <ErrorList errors={errors} />
    </div>
  );
}

interface FieldFrame {
  label: ReactNode;
  hint?: ReactNode;
  errors?: readonly UserError[];
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
}

/** A label, the control, its hint and the errors at it, tied together for assistive
 * technology (aria-describedby, aria-invalid). */
export function Field({ label, hint, errors = [], children }: FieldFrame) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', errors.length ? `${id}-errors` : ''].filter(Boolean).join(' ');
  return (
    <div className={`field${errors.length ? ' has-errors' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {children({ id, 'aria-describedby': described || undefined, 'aria-invalid': errors.length ? true : undefined })}
      <ErrorList id={`${id}-errors`} errors={errors} />
    </div>
  );
}

type Framed<T> = Omit<FieldFrame, 'children'> & T;

export function TextField({ label, hint, errors, ...input }: Framed<InputHTMLAttributes<HTMLInputElement>>) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(aria) => <input {...input} {...aria} />}
    </Field>
  );
}

export function TextArea({ label, hint, errors, ...input }: Framed<TextareaHTMLAttributes<HTMLTextAreaElement>>) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(aria) => <textarea {...input} {...aria} />}
    </Field>
  );
}

export function Select({ label, hint, errors, children, ...input }: Framed<SelectHTMLAttributes<HTMLSelectElement>>) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(aria) => (
        <select {...input} {...aria}>
          {children}
        </select>
      )}
    </Field>
  );
}

const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 3339 from the API, shown in UTC (the API's zone) to the minute. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const d = new Date(value);
  const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  return <time dateTime={value}>{text}</time>;
}

export const STATUS_TEXT: Record<string, string> = {
  PENDING_ISSUE: 'Pending issue',
  ISSUED: 'Issued',
  REISSUING: 'Reissuing',
  EXPIRED: 'Expired',
  REVOKED: 'Revoked',
  PENDING_DOMAIN_VALIDATION: 'Waiting for domain validation',
  PENDING_MANUAL_REVIEW: 'Waiting for manual review',
  PENDING_CA_VERIFICATION: "Waiting for the CA's verification",
  REJECTED: 'Rejected',
  CANCELLED: 'Cancelled',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {STATUS_TEXT[status] ?? status}
    </span>
  );
}

export const FLOW_TEXT: Record<string, string> = {
  ORGANIZATION_WOTRUS_DNSPOD: 'OV/EV (WoTrus or DNSPod)',
  ORGANIZATION_OTHER_BRAND: 'OV/EV (other brand)',
  PAID_DV: 'Paid DV',
  FREE_DV: 'Free DV',
};

export const WAIVER_TEXT: Record<string, string> = {
  SUBMITTED_WITHIN_3_DAYS: 'No domain validation: submitted within 3 days of the original issue',
  SAME_CSR: 'No domain validation: the CSR is the original one',
  AUTO_VALIDATION_CONFIGURED: 'No domain validation: TrustAsia multi-year wildcard with automatic validation configured',
  VERIFIED_WITHIN_13_MONTHS: 'No domain validation: ownership verified here within the last 13 months',
  ORGANIZATION_UNCHANGED: 'No manual review: the organization is the one on file',
};

export const CSR_SOURCE_TEXT: Record<string, string> = {
  ORIGINAL: "The original certificate's CSR",
  ONLINE: 'Generated online',
  UPLOAD: 'Pasted CSR',
};

/** Copies `text` to the clipboard; where the browser refuses (no secure context), selects
 * the element `fallbackId` so that Ctrl-C copies it, and says so. */
export function CopyButton({ text, label, fallbackId }: { text: string; label: string; fallbackId?: string }) {
  const [said, setSaid] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid('Copied');
    } catch {
      const el = fallbackId ? document.getElementById(fallbackId) : null;
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
      setSaid('Copying was refused: the text is selected, press Ctrl-C');
    }
    window.setTimeout(() => setSaid(''), 4000);
  };
  return (
    <span className="copy">
      <button type="button" className="secondary small" onClick={copy}>
        {label}
      </button>
      <span className="copy-said" role="status">
        {said}
      </span>
    </span>
  );
}

export function download(filename: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A failed request (not a userError): the network, a refusal of the API. */
export function RequestFailed({ error }: { error: { message: string } }) {
  return (
    <div className="alert" role="alert">
      <p className="alert-title">The request failed</p>
      <p>{error.message.replace(/^\[(GraphQL|Network)\] /, '')}</p>
    </div>
  );
}

/** Previous and next page over a forward-only connection (first/after): `cursors` are the
 * `after` of each page seen so far, the first one null. */
export function Pager({
  cursors,
  setCursors,
  pageInfo,
}: {
  cursors: (string | null)[];
  setCursors: (cursors: (string | null)[]) => void;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="secondary" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
        Previous page
      </button>
      <button
        type="button"
        className="secondary"
        disabled={!pageInfo.hasNextPage || !pageInfo.endCursor}
        onClick={() => setCursors([...cursors, pageInfo.endCursor ?? null])}
      >
        Next page
      </button>
    </nav>
  );
}
