// A generated private key is returned once, in the requestReissue answer (R31). The
// console keeps it here, in memory only, until the user dismisses it or signs out, so
// that the reissue's page can show it once; it is never written to any storage, the
// Graphcache cache (the mutation's result is not kept by field) or the history state.
const keys = new Map<string, string>();

export const keepKey = (reissueId: string, pem: string) => void keys.set(reissueId, pem);
export const takeKey = (reissueId: string): string | undefined => keys.get(reissueId);
export const dropKey = (reissueId: string) => void keys.delete(reissueId);
export const forgetKeys = () => keys.clear();
