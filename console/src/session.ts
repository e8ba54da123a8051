// The signed-in token lives in sessionStorage (this tab, until it closes), never in
// localStorage, a cookie or the address bar. Signing out removes it.
const TOKEN = 'certreissue.token';
const KIND = 'certreissue.kind';

/** An account token (owner or viewer) or a staff token (reviewer or operator), R26. */
export type Kind = 'account' | 'staff';

export interface Session {
  token: string;
  kind: Kind;
}

export function loadSession(): Session | null {
  try {
    const token = sessionStorage.getItem(TOKEN);
    const kind = sessionStorage.getItem(KIND);
    if (token && (kind === 'account' || kind === 'staff')) return { token, kind };
  } catch {
    // storage unavailable (a sandboxed frame): no session
  }
  return null;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(TOKEN, session.token);
  sessionStorage.setItem(KIND, session.kind);
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(KIND);
  } catch {
    // nothing was stored
  }
}
