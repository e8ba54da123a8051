import { useState } from 'react';
import { useQuery, useSubscription } from 'urql';
import { CertificateDetail as DetailQuery, CertificateLive, OlderReissues } from '../operations';
import { Link } from '../router';
import { CSR_SOURCE_TEXT, FLOW_TEXT, Loading, PageHeading, RequestFailed, StatusBadge, Time } from '../ui';
import { LiveNote } from './Live';

type Row = { id: string; status: string; csrSource: string; domain: string; reason?: string | null; createdAt: string; completedAt?: string | null };

export function CertificateDetail({ id, staff }: { id: string; staff: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: DetailQuery, variables: { id } });
  // The first message is the current state, then one per change, from any process.
  const [live] = useSubscription({ query: CertificateLive, variables: { id } });
  const certificate = data?.certificate;

  if (error && !certificate) return <RequestFailed error={error} />;
  if (!certificate) {
    return fetching ? (
      <Loading what="the certificate" />
    ) : (
      <>
        <PageHeading title="Certificate not found">Certificate not found</PageHeading>
        <p>
          No certificate <code>{id}</code> here. <Link to={staff ? '/review' : '/certificates'}>Back</Link>
        </p>
      </>
    );
  }
  const eligibility = certificate.reissueEligibility;
  return (
    <>
      <p className="crumbs">{staff ? <Link to="/review">Review queue</Link> : <Link to="/certificates">Certificates</Link>} /</p>
      <PageHeading title={certificate.domain}>{certificate.domain}</PageHeading>
      <LiveNote active={!!live.data} error={live.error} onRefresh={() => refetch({ requestPolicy: 'network-only' })} />
      <div className="status-line" aria-live="polite">
        Status: <StatusBadge status={certificate.status} />
        {certificate.activeReissue ? (
          <>
            {' '}
            · <Link to={`/reissues/${encodeURIComponent(certificate.activeReissue.id)}`}>Reissue in progress</Link>
          </>
        ) : null}
      </div>

      <section aria-labelledby="eligibility">
        <h2 id="eligibility">Reissue</h2>
        {eligibility.eligible ? (
          <p>
            This certificate can be reissued ({FLOW_TEXT[eligibility.flow]}).{' '}
            {staff ? null : (
              <Link className="button" to={`/certificates/${encodeURIComponent(certificate.id)}/reissue`}>
                Reissue this certificate
              </Link>
            )}
          </p>
        ) : (
          <>
            <p>This certificate cannot be reissued now ({FLOW_TEXT[eligibility.flow]}):</p>
            <ul className="reasons">
              {eligibility.reasons.map((r, i) => (
                <li key={i} data-code={r.code}>
                  {r.message} <span className="code">({r.code})</span>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>

      <section aria-labelledby="details">
        <h2 id="details">Details</h2>
        <dl className="facts">
          <dt>Names</dt>
          <dd>{[certificate.domain, ...certificate.subjectAltNames.filter((n) => n !== certificate.domain)].join(', ')}</dd>
          <dt>Primary domain</dt>
          <dd>{certificate.primaryDomain}</dd>
          <dt>Type</dt>
          <dd>
            {certificate.brand} {certificate.validationLevel}, {certificate.isFree ? 'free' : `paid, ${certificate.purchasedYears} year(s)`}
          </dd>
          <dt>Organization</dt>
          <dd>{certificate.organization?.name ?? '—'}</dd>
          <dt>Valid</dt>
          <dd>
            <Time value={certificate.notBefore} /> to <Time value={certificate.notAfter} />
          </dd>
          <dt>Key</dt>
          <dd>
            {certificate.keyAlgorithm} {certificate.keyParameter}
          </dd>
          <dt>Serial number</dt>
          <dd className="mono">{certificate.serialNumber}</dd>
          <dt>SHA-256 fingerprint</dt>
          <dd className="mono wrap">{certificate.fingerprintSha256}</dd>
          <dt>Domain validation at issue</dt>
          <dd>{certificate.validationMethod}</dd>
          <dt>Provenance</dt>
          <dd>
            {certificate.provenance === 'ISSUED_HERE' ? 'Issued here' : 'Imported'}; chain {certificate.chainTrusted ? 'trusted' : 'not trusted'}; key{' '}
            {certificate.keyVerified ? 'verified' : 'not verified'}
            {certificate.chainUntrustedReason ? ` (${certificate.chainUntrustedReason})` : ''}
          </dd>
          <dt>Reissues completed</dt>
          <dd>{certificate.reissueCount}</dd>
        </dl>
      </section>

      <section aria-labelledby="versions">
        <h2 id="versions">Versions</h2>
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Versions of the certificate, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Serial number</th>
                <th scope="col">Key</th>
                <th scope="col">Valid from</th>
                <th scope="col">Valid to</th>
                <th scope="col">Replaced</th>
              </tr>
            </thead>
            <tbody>
              {certificate.versions.map((v) => (
                <tr key={v.serialNumber}>
                  <th scope="row" className="mono">
                    {v.serialNumber}
                  </th>
                  <td>
                    {v.keyAlgorithm} {v.keyParameter}
                  </td>
                  <td>
                    <Time value={v.notBefore} />
                  </td>
                  <td>
                    <Time value={v.notAfter} />
                  </td>
                  <td>{v.supersededAt ? <Time value={v.supersededAt} /> : 'Current'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="history">
        <h2 id="history">Reissue history</h2>
        <ReissueHistory certificateId={certificate.id} first={certificate.reissues} />
      </section>
    </>
  );
}

interface HistoryPage {
  totalCount: number;
  edges: { node: Row }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

function ReissueHistory({ certificateId, first }: { certificateId: string; first: HistoryPage }) {
  const [cursors, setCursors] = useState<string[]>([]);
  if (first.totalCount === 0) return <p>No reissue yet.</p>;
  return (
    <>
      <p>{first.totalCount} reissue(s), newest first.</p>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Reissues of the certificate, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Requested</th>
              <th scope="col">Status</th>
              <th scope="col">CSR</th>
              <th scope="col">Domain</th>
              <th scope="col">Reason</th>
              <th scope="col">Completed</th>
            </tr>
          </thead>
          <tbody>
            <HistoryRows rows={first.edges.map((e) => e.node)} />
            {cursors.map((after) => (
              <OlderRows key={after} certificateId={certificateId} after={after} />
            ))}
          </tbody>
        </table>
      </div>
      <LoadOlder certificateId={certificateId} firstPage={first.pageInfo} cursors={cursors} onMore={(c) => setCursors([...cursors, c])} />
    </>
  );
}

function HistoryRows({ rows }: { rows: Row[] }) {
  return (
    <>
      {rows.map((r) => (
        <tr key={r.id}>
          <th scope="row">
            <Link to={`/reissues/${encodeURIComponent(r.id)}`}>
              <Time value={r.createdAt} />
            </Link>
          </th>
          <td>
            <StatusBadge status={r.status} />
          </td>
          <td>{CSR_SOURCE_TEXT[r.csrSource]}</td>
          <td>{r.domain}</td>
          <td>{r.reason ?? '—'}</td>
          <td>
            <Time value={r.completedAt} />
          </td>
        </tr>
      ))}
    </>
  );
}

function OlderRows({ certificateId, after }: { certificateId: string; after: string }) {
  const [{ data }] = useQuery({ query: OlderReissues, variables: { id: certificateId, after } });
  const rows = data?.certificate?.reissues.edges.map((e) => e.node) ?? [];
  return <HistoryRows rows={rows} />;
}

/** "Show older reissues" follows the last loaded page's endCursor. */
function LoadOlder({
  certificateId,
  firstPage,
  cursors,
  onMore,
}: {
  certificateId: string;
  firstPage: HistoryPage['pageInfo'];
  cursors: string[];
  onMore: (cursor: string) => void;
}) {
  const last = cursors[cursors.length - 1];
  // The same query as the last page's rows: answered from the cache.
  const [{ data }] = useQuery({ query: OlderReissues, variables: { id: certificateId, after: last ?? '' }, pause: !last });
  const info = last ? data?.certificate?.reissues.pageInfo : firstPage;
  if (!info?.hasNextPage || !info.endCursor) return null;
  const next = info.endCursor;
  return (
    <button type="button" className="secondary" onClick={() => onMore(next)}>
      Show older reissues
    </button>
  );
}
