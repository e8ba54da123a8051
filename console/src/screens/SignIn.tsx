import { type FormEvent, useState } from 'react';
import { isUnauthenticated, probeClient } from '../client';
import { WhoAmIAccount, WhoAmIStaff } from '../operations';
import type { Session } from '../session';
import { PageHeading, TextField, type UserError } from '../ui';

/** Sign in by pasting an API token. The console asks the API what kind of token it is:
 * an account token lists certificates, a staff token has the review queue instead. */
export function SignIn({ notice, onSignedIn }: { notice: string; onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, '');
    if (!value) {
      setErrors([{ code: '', message: 'Paste an API token first.', field: ['token'] }]);
      return;
    }
    setBusy(true);
    setErrors([]);
    try {
      const client = probeClient(value);
      const asAccount = await client.query(WhoAmIAccount, {}).toPromise();
      if (asAccount.data) {
        onSignedIn({ token: value, kind: 'account' });
        return;
      }
      if (isUnauthenticated(asAccount.error)) {
        setErrors([{ code: 'UNAUTHENTICATED', message: 'The API does not accept this token: it is unknown, expired or revoked.', field: ['token'] }]);
        return;
      }
      const asStaff = await client.query(WhoAmIStaff, {}).toPromise();
      if (asStaff.data) {
        onSignedIn({ token: value, kind: 'staff' });
        return;
      }
      const error = asStaff.error ?? asAccount.error;
      setErrors([{ code: '', message: error ? error.message.replace(/^\[(GraphQL|Network)\] /, '') : 'No answer', field: ['token'] }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="narrow">
      <PageHeading title="Sign in">Sign in</PageHeading>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <p>
        Paste an API token. The console keeps it in this browser tab only (session storage) and sends it with every request
        as <code>Authorization: Bearer …</code>; closing the tab or signing out forgets it.
      </p>
      <form onSubmit={submit} noValidate>
        <TextField
          label="API token"
          hint={
            <>
              Created with <code>certreissue token create</code>; it starts with <code>crt1_</code>.
            </>
          }
          errors={errors}
          type="password"
          autoComplete="off"
          spellCheck={false}
          name="token"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
