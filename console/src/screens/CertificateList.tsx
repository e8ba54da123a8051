import { type FormEvent, useState } from 'react';
import { useQuery } from 'urql';
import type { CertificateFilter, CertificateStatus } from '../gql/graphql';
import { CertificateList as ListQuery } from '../operations';
import { Link } from '../router';
import { FLOW_TEXT, Loading, PageHeading, RequestFailed, Select, StatusBadge, TextField, Time, Pager } from '../ui';

export const PAGE_SIZE = 10;
const STATUSES: CertificateStatus[] = ['ISSUED', 'REISSUING', 'PENDING_ISSUE', 'EXPIRED', 'REVOKED'];

/** The account's certificates, newest first, a page at a time (cursor pagination). */
export function CertificateList() {
  const [draft, setDraft] = useState({ domain: '', status: '', expiresBefore: '' });
  const [filter, setFilter] = useState<CertificateFilter>({});
  // The cursors of the pages seen so far: the API pages forward only (first/after).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [{ data, error, operation }] = useQuery({ query: ListQuery, variables: { first: PAGE_SIZE, after, filter } });
  // While another page loads, urql keeps the last answer: show only the page asked for.
  const answered = operation?.variables;
  const current = answered?.after === after && JSON.stringify(answered?.filter) === JSON.stringify(filter);
  const page = current ? data?.certificates : undefined;

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilter({
      domainContains: draft.domain.trim() || null,
      status: (draft.status || null) as CertificateStatus | null,
      expiresBefore: draft.expiresBefore ? `${draft.expiresBefore}T00:00:00Z` : null,
    });
    setCursors([null]);
  };
  const first = (cursors.length - 1) * PAGE_SIZE;

  return (
    <>
      <PageHeading title="Certificates">Certificates</PageHeading>
      <form className="filters" onSubmit={apply} role="search" aria-label="Filter certificates">
        <TextField label="Domain contains" name="domain" value={draft.domain} onChange={(e) => setDraft({ ...draft, domain: e.target.value })} />
        <Select label="Status" name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.charAt(0) + s.slice(1).toLowerCase().replace('_', ' ')}
            </option>
          ))}
        </Select>
        <TextField
          label="Expires before"
          type="date"
          name="expiresBefore"
          value={draft.expiresBefore}
          onChange={(e) => setDraft({ ...draft, expiresBefore: e.target.value })}
        />
        <button type="submit">Filter</button>
      </form>
      {error ? <RequestFailed error={error} /> : null}
      {!page && !error ? <Loading what="certificates" /> : null}
      {page ? (
        <>
          <p className="summary" role="status">
            {page.totalCount === 0
              ? 'No certificates match.'
              : `Certificates ${first + 1}–${first + page.edges.length} of ${page.totalCount}`}
          </p>
          {page.edges.length ? (
            <div className="table-wrap">
              <table className="certificates">
                <caption className="visually-hidden">Certificates, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Domain</th>
                    <th scope="col">Status</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Type</th>
                    <th scope="col">Reissue</th>
                  </tr>
                </thead>
                <tbody>
                  {page.edges.map(({ node }) => (
                    <tr key={node.id}>
                      <th scope="row">
                        <Link to={`/certificates/${encodeURIComponent(node.id)}`}>{node.domain}</Link>
                      </th>
                      <td>
                        <StatusBadge status={node.status} />
                      </td>
                      <td>
                        <Time value={node.notAfter} />
                      </td>
                      <td>
                        {node.brand} {node.validationLevel} {node.isFree ? '(free)' : ''}
                      </td>
                      <td>
                        {node.reissueEligibility.eligible ? (
                          <>
                            <span className="ok">Eligible</span> · {FLOW_TEXT[node.reissueEligibility.flow]}{' '}
                            <Link className="button small" to={`/certificates/${encodeURIComponent(node.id)}/reissue`} aria-label={`Reissue ${node.domain}`}>
                              Reissue
                            </Link>
                          </>
                        ) : (
                          <>
                            <span className="not-ok">Not eligible</span>
                            <ul className="reasons">
                              {node.reissueEligibility.reasons.map((r, i) => (
                                <li key={i} data-code={r.code}>
                                  {r.message}
                                </li>
                              ))}
                            </ul>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          <Pager cursors={cursors} setCursors={setCursors} pageInfo={page.pageInfo} />
        </>
      ) : null}
    </>
  );
}
