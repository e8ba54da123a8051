// Staff: the reissues waiting for the caller's role in every account, oldest first
// (a reviewer's: PENDING_MANUAL_REVIEW, approved or rejected with a reason; an operator's:
// PENDING_CA_VERIFICATION, confirmed once the CA has verified the applicant).
import { type FormEvent, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { ApproveReissue, ConfirmCaVerification, RejectReissue, ReviewQueue as QueueQuery } from '../operations';
import { Link } from '../router';
import { FLOW_TEXT, FormErrors, Loading, PageHeading, RequestFailed, StatusBadge, TextField, Time, type UserError, errorsAt, Pager } from '../ui';

const PAGE_SIZE = 10;

export function ReviewQueue() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [{ data, fetching, error, operation }, refetch] = useQuery({ query: QueueQuery, variables: { first: PAGE_SIZE, after } });
  const page = operation?.variables.after === after ? data?.reviewQueue : undefined; // not the last page's answer
  return (
    <>
      <PageHeading title="Review queue">Review queue</PageHeading>
      <p>Reissues waiting for your role, in every account, oldest first.</p>
      <button type="button" className="secondary" onClick={() => refetch({ requestPolicy: 'network-only' })}>
        Refresh the queue
      </button>
      {error ? <RequestFailed error={error} /> : null}
      {!page && (fetching || !error) ? <Loading what="the queue" /> : null}
      {page ? (
        <>
          <p className="summary" role="status">
            {page.totalCount === 0 ? 'Nothing is waiting.' : `${page.totalCount} waiting`}
          </p>
          <ul className="queue">
            {page.edges.map(({ node }) => (
              <li key={node.id}>
                <QueueItem reissue={node} />
              </li>
            ))}
          </ul>
          <Pager cursors={cursors} setCursors={setCursors} pageInfo={page.pageInfo} />
        </>
      ) : null}
    </>
  );
}

interface Item {
  id: string;
  status: string;
  flow: string;
  domain: string;
  reason?: string | null;
  createdAt: string;
  certificate: { domain: string; validationLevel: string; brand: string; organization?: { name: string } | null };
  events: readonly { at: string; actor: string; to: string; note?: string | null }[];
}

function QueueItem({ reissue }: { reissue: Item }) {
  const headingId = `review-${reissue.id}`;
  return (
    <article aria-labelledby={headingId} className="card">
      <h2 id={headingId}>
        <Link to={`/reissues/${encodeURIComponent(reissue.id)}`}>{reissue.domain}</Link>
      </h2>
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={reissue.status} />
        </dd>
        <dt>Certificate</dt>
        <dd>
          {reissue.certificate.domain}, {reissue.certificate.brand} {reissue.certificate.validationLevel} ({FLOW_TEXT[reissue.flow]})
        </dd>
        <dt>Organization on file</dt>
        <dd>{reissue.certificate.organization?.name ?? '—'}</dd>
        <dt>Reason given</dt>
        <dd>{reissue.reason ?? '—'}</dd>
        <dt>Requested</dt>
        <dd>
          <Time value={reissue.createdAt} />
        </dd>
      </dl>
      {reissue.status === 'PENDING_MANUAL_REVIEW' ? <Decide reissue={reissue} /> : null}
      {reissue.status === 'PENDING_CA_VERIFICATION' ? <Confirm reissue={reissue} /> : null}
    </article>
  );
}

function Decide({ reissue }: { reissue: Item }) {
  const [comment, setComment] = useState('');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<UserError[]>([]);
  const [approval, approve] = useMutation(ApproveReissue);
  const [rejection, reject] = useMutation(RejectReissue);
  const onApprove = async (event: FormEvent) => {
    event.preventDefault();
    const result = await approve({ id: reissue.id, comment: comment.trim() || null });
    setErrors([...(result.data?.approveReissue.userErrors ?? [])]);
  };
  const onReject = async (event: FormEvent) => {
    event.preventDefault();
    const result = await reject({ id: reissue.id, reason });
    setErrors([...(result.data?.rejectReissue.userErrors ?? [])]);
  };
  const atReason = errorsAt(errors, 'reason');
  const atComment = errorsAt(errors, 'comment');
  const other = errors.filter((e) => !atReason.includes(e) && !atComment.includes(e));
  return (
    <div className="decide">
      <FormErrors errors={other} />
      <form onSubmit={onApprove} aria-label={`Approve the reissue of ${reissue.domain}`}>
        <TextField label="Comment (optional)" name="comment" errors={atComment} value={comment} onChange={(e) => setComment(e.target.value)} />
        <button type="submit" disabled={approval.fetching}>
          Approve
        </button>
      </form>
      <form onSubmit={onReject} aria-label={`Reject the reissue of ${reissue.domain}`} noValidate>
        <TextField label="Reason for rejecting" name="reason" errors={atReason} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button type="submit" className="danger" disabled={rejection.fetching}>
          Reject
        </button>
      </form>
      {approval.error ? <RequestFailed error={approval.error} /> : null}
      {rejection.error ? <RequestFailed error={rejection.error} /> : null}
    </div>
  );
}

function Confirm({ reissue }: { reissue: Item }) {
  const [errors, setErrors] = useState<UserError[]>([]);
  const [confirmation, confirm] = useMutation(ConfirmCaVerification);
  const onConfirm = async () => {
    const result = await confirm({ id: reissue.id });
    setErrors([...(result.data?.confirmCaVerification.userErrors ?? [])]);
  };
  return (
    <div className="decide">
      <FormErrors errors={errors} />
      <p>Confirm once the CA has verified the applicant's identity offline; the certificate is then issued.</p>
      <button type="button" onClick={onConfirm} disabled={confirmation.fetching}>
        Confirm CA verification
      </button>
      {confirmation.error ? <RequestFailed error={confirmation.error} /> : null}
    </div>
  );
}
