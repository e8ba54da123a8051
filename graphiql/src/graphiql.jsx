// GraphiQL for certreissue: the page served at /graphql imports this module and calls
// mount(element, options). Everything it needs comes from this build, served by the
// service under ./graphiql/static/ (no CDN): GraphiQL 5 and its Monaco editors, the
// explorer plugin, and Monaco's three web workers (built as separate files by build.mjs,
// whose names are substituted for MONACO_WORKERS).

import { explorerPlugin } from '@graphiql/plugin-explorer';
import '@graphiql/plugin-explorer/style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { createElement, useState } from 'react';
import { createRoot } from 'react-dom/client';
import './page.css';

/* global MONACO_WORKERS */

// Monaco asks for a worker per language; each is a classic script beside this module, so
// the page's CSP needs only worker-src 'self' (no blob: URLs, no eval).
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = MONACO_WORKERS[label] ?? MONACO_WORKERS.editor;
    return new Worker(new URL(file, import.meta.url), { name: `monaco-${label}` });
  },
};

const WELCOME = `# certreissue
#
# Every operation needs an API token. Paste it into
# the Headers tab below:
#
#   {"Authorization": "Bearer crt1_..."}
#
# (\`certreissue demo\` or \`certreissue token create\`
# prints one). Headers stay in this tab only, unless
# you turn on "Persist headers" in the settings.
#
# Run with the play button (Ctrl-Enter). The docs
# fill in once the schema is fetched with your token:
# press the refresh icon (Shift-Ctrl-R).

{
  certificates(first: 20) {
    totalCount
    edges { node { id domain status notAfter } }
  }
}
`;

// The query and variables are kept in the address bar (?q=...&variables=...) so a link can
// share them; the headers never are: they carry the token. (`query` itself would make the
// service run the query instead of serving this page.)
function readParameters() {
  const parameters = new URLSearchParams(window.location.search);
  return { q: parameters.get('q') ?? undefined, variables: parameters.get('variables') ?? undefined };
}

function writeParameter(name, value) {
  const parameters = new URLSearchParams(window.location.search);
  if (value) parameters.set(name, value);
  else parameters.delete(name);
  const search = parameters.toString();
  window.history.replaceState(null, '', search ? `?${search}` : window.location.pathname);
}

function CertReissueGraphiQL({ options, fetcher, plugins }) {
  const [initial] = useState(readParameters);
  return createElement(GraphiQL, {
    fetcher,
    plugins,
    defaultQuery: WELCOME,
    initialQuery: initial.q,
    initialVariables: initial.variables,
    onEditQuery: (query) => writeParameter('q', query),
    onEditVariables: (variables) => writeParameter('variables', variables),
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    inputValueDeprecation: true,
    // The headers editor holds the bearer token: not written to localStorage unless the
    // user turns "Persist headers" on in the settings dialog, which this shows.
    shouldPersistHeaders: options.shouldPersistHeaders,
    showPersistHeadersSettings: options.showPersistHeadersSettings,
  });
}

/**
 * Renders GraphiQL into `element`. `options.url` is the GraphQL endpoint (default: this
 * page's own address without its query string).
 */
export function mount(element, options = {}) {
  const settings = {
    url: window.location.href.split(/[?#]/)[0],
    shouldPersistHeaders: false,
    showPersistHeadersSettings: true,
    ...options,
  };
  const fetcher = createGraphiQLFetcher({ url: settings.url });
  const plugins = [explorerPlugin()];
  createRoot(element).render(createElement(CertReissueGraphiQL, { options: settings, fetcher, plugins }));
}
