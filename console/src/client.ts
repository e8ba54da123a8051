// The GraphQL client of one signed-in session: urql with Graphcache, queries and
// mutations by POST /graphql with the bearer token, subscriptions over one WebSocket
// (graphql-ws, subprotocol graphql-transport-ws) authorised in its connection_init.
//
// Why Graphcache: the console shows the same certificate and reissue on several screens
// (the list, the detail, the wizard, the validation step, the review queue), and live
// updates arrive as whole objects. A normalised cache keyed by `id` lets one mutation
// answer or one subscription message update every screen that shows that object, without
// refetching; it costs about 12 kB gzipped, well inside the console's 250 kB budget.
// A new client (and so an empty cache) is made for every sign-in; signing out drops it.
import { Client, type CombinedError, fetchExchange, mapExchange, subscriptionExchange } from '@urql/core';
import { type Cache, cacheExchange, type KeyingConfig } from '@urql/exchange-graphcache';
import { createClient as createWebSocketClient } from 'graphql-ws';

export interface SessionClient {
  client: Client;
  dispose(): void;
}

// Objects without an ID are kept inside the object that holds them.
const EMBEDDED = [
  'CertificateConnection',
  'CertificateEdge',
  'CertificateVersion',
  'DnsChallenge',
  'DomainValidation',
  'FileChallenge',
  'OrderFactChange',
  'Organization',
  'PageInfo',
  'ReissueConnection',
  'ReissueEdge',
  'ReissueEligibility',
  'ReissueEvent',
  'ReissuePayload',
  'ReissuePreview',
  'RequestReissuePayload',
  'UserError',
];
const keys: KeyingConfig = Object.fromEntries(EMBEDDED.map((type) => [type, () => null]));

function invalidateField(cache: Cache, entity: string | null, fieldName: string): void {
  if (!entity) return;
  for (const field of cache.inspectFields(entity)) {
    if (field.fieldName === fieldName) cache.invalidate(entity, field.fieldName, field.arguments ?? undefined);
  }
}

type Payload = { reissue?: { certificate?: { id?: string } | null } | null } | null | undefined;

function certificateOf(cache: Cache, payload: Payload): string | null {
  const id = payload?.reissue?.certificate?.id;
  return id ? cache.keyOfEntity({ __typename: 'Certificate', id }) : null;
}

/** What changes lists: a new or ended reissue changes its certificate's history, and a
 * decision takes a reissue out of the review queue. The objects themselves are updated
 * from the answers. */
const updates = {
  Mutation: {
    requestReissue(result: Record<string, unknown>, _args: unknown, cache: Cache) {
      invalidateField(cache, certificateOf(cache, result.requestReissue as Payload), 'reissues');
      invalidateField(cache, 'Query', 'certificates'); // eligibility under the same primary domain
    },
    cancelReissue(result: Record<string, unknown>, _args: unknown, cache: Cache) {
      invalidateField(cache, certificateOf(cache, result.cancelReissue as Payload), 'reissues');
      invalidateField(cache, 'Query', 'certificates');
    },
    approveReissue(_result: unknown, _args: unknown, cache: Cache) {
      invalidateField(cache, 'Query', 'reviewQueue');
    },
    rejectReissue(_result: unknown, _args: unknown, cache: Cache) {
      invalidateField(cache, 'Query', 'reviewQueue');
    },
    confirmCaVerification(_result: unknown, _args: unknown, cache: Cache) {
      invalidateField(cache, 'Query', 'reviewQueue');
    },
  },
};

export function isUnauthenticated(error: CombinedError | undefined): boolean {
  return (
    error?.response?.status === 401 ||
    !!error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')
  );
}

const endpoint = () => new URL('/graphql', window.location.href).href;

function fetchOptions(token: string): RequestInit {
  return { headers: { Authorization: `Bearer ${token}` }, credentials: 'omit' };
}

/** A client with no cache and no subscriptions, for trying a token before signing in. */
export function probeClient(token: string): Client {
  return new Client({ url: endpoint(), exchanges: [fetchExchange], fetchOptions: fetchOptions(token), preferGetMethod: false, requestPolicy: 'network-only' });
}

export function sessionClient(token: string, onUnauthenticated: () => void): SessionClient {
  const url = endpoint();
  const socket = createWebSocketClient({
    url: url.replace(/^http/, 'ws'),
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true, // connected while a screen subscribes, closed when none does
    retryAttempts: 5,
  });
  const client = new Client({
    url,
    preferGetMethod: false, // POST /graphql: the query never goes into a URL or a log line
    fetchOptions: fetchOptions(token),
    requestPolicy: 'cache-and-network',
    exchanges: [
      mapExchange({
        onError(error) {
          if (isUnauthenticated(error)) onUnauthenticated();
        },
      }),
      cacheExchange({ keys, updates }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const operation = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              return { unsubscribe: socket.subscribe(operation, sink) };
            },
          };
        },
      }),
    ],
  });
  return { client, dispose: () => void socket.dispose() };
}
