import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Provider } from 'urql';
import { sessionClient } from './client';
import { forgetKeys } from './keys';
import { Link, match, navigate, useLocation } from './router';
import { CertificateDetail } from './screens/CertificateDetail';
import { CertificateList } from './screens/CertificateList';
import { ReissuePage } from './screens/ReissuePage';
import { ReissueWizard } from './screens/ReissueWizard';
import { ReviewQueue } from './screens/ReviewQueue';
import { SignIn } from './screens/SignIn';
import { type Session, clearSession, loadSession, saveSession } from './session';
import { PageHeading } from './ui';

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState('');
  const { path } = useLocation();

  const signOut = useCallback((message: string) => {
    clearSession();
    forgetKeys();
    setSession(null);
    setNotice(message);
    navigate('/', { replace: true });
  }, []);
  const signOutRef = useRef(signOut);
  signOutRef.current = signOut;

  // One client, and so one cache and one WebSocket, per sign-in; dropped at sign-out.
  const live = useMemo(
    () =>
      session
        ? sessionClient(session.token, () =>
            signOutRef.current('The API no longer accepts this token (it expired or was revoked): sign in again.'),
          )
        : null,
    [session],
  );
  useEffect(() => () => live?.dispose(), [live]);

  if (!session || !live) {
    return (
      <Shell>
        <SignIn
          notice={notice}
          onSignedIn={(signedIn) => {
            saveSession(signedIn);
            setNotice('');
            setSession(signedIn);
            if (path === '/' || path === '/signin') navigate(signedIn.kind === 'staff' ? '/review' : '/certificates', { replace: true });
          }}
        />
      </Shell>
    );
  }
  return (
    <Provider value={live.client}>
      <Shell session={session} onSignOut={() => signOut('You are signed out: the token was removed from this tab.')}>
        <Screen path={path} session={session} />
      </Shell>
    </Provider>
  );
}

function Screen({ path, session }: { path: string; session: Session }) {
  const home = session.kind === 'staff' ? '/review' : '/certificates';
  useEffect(() => {
    if (path === '/' || path === '/signin') navigate(home, { replace: true });
  }, [path, home]);
  let params: Record<string, string> | null;
  if (path === '/' || path === '/signin') return null;
  if (path === '/certificates') return <CertificateList />;
  if ((params = match('/certificates/:id', path))) return <CertificateDetail id={params.id} staff={session.kind === 'staff'} />;
  if ((params = match('/certificates/:id/reissue', path))) return <ReissueWizard certificateId={params.id} />;
  if ((params = match('/reissues/:id', path))) return <ReissuePage id={params.id} staff={session.kind === 'staff'} />;
  if (path === '/review') return <ReviewQueue />;
  return (
    <>
      <PageHeading title="Not found">Nothing here</PageHeading>
      <p>
        The console has no page at this address. <Link to={home}>Go to the start page</Link>.
      </p>
    </>
  );
}

function Shell({ session, onSignOut, children }: { session?: Session; onSignOut?: () => void; children: React.ReactNode }) {
  return (
    <>
      <a className="skip" href="#main">
        Skip to the content
      </a>
      <header className="top">
        <span className="brand">certreissue console</span>
        {session ? (
          <>
            <nav aria-label="Main">
              <ul>
                {session.kind === 'account' ? (
                  <li>
                    <Link to="/certificates">Certificates</Link>
                  </li>
                ) : (
                  <li>
                    <Link to="/review">Review queue</Link>
                  </li>
                )}
              </ul>
            </nav>
            <span className="who">{session.kind === 'staff' ? 'Staff token' : 'Account token'}</span>
            <button type="button" className="secondary" onClick={onSignOut}>
              Sign out
            </button>
          </>
        ) : null}
      </header>
      <main id="main">{children}</main>
    </>
  );
}
