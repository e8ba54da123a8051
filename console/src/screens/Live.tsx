import type { CombinedError } from '@urql/core';

/** Why a subscription stopped, in words: graphql-ws hands over a CloseEvent or an Event
 * (not an Error) when the WebSocket cannot be opened or is closed. */
export function liveProblem(error: CombinedError): string {
  if (error.graphQLErrors.length) return error.graphQLErrors.map((e) => e.message).join('; ');
  const cause = error.networkError as unknown as { code?: unknown; reason?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'number') {
    return `the WebSocket closed with code ${cause.code}${typeof cause.reason === 'string' && cause.reason ? `: ${cause.reason}` : ''}`;
  }
  if (cause && typeof cause.message === 'string' && cause.message) return cause.message;
  return 'the service did not open a WebSocket for them';
}

/** Says whether the screen is following changes live (a subscription over the WebSocket)
 * or why it is not; the page never polls. */
export function LiveNote({ active, error, onRefresh }: { active: boolean; error?: CombinedError; onRefresh: () => void }) {
  return (
    <p className="live" data-live={error ? 'off' : active ? 'on' : 'starting'}>
      {error ? (
        <>
          Live updates are unavailable: {liveProblem(error)}.{' '}
          <button type="button" className="linkish" onClick={onRefresh}>
            Refresh now
          </button>
        </>
      ) : active ? (
        'Live: this page follows changes as they happen.'
      ) : (
        'Connecting for live updates…'
      )}
    </p>
  );
}
