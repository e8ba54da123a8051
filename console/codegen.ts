// graphql-codegen's client preset: every operation in src/ is typed from the schema the
// service serves, the checked-in ../schema.graphql (printed by `certreissue schema`). Run
// by `npm run build` before the type check; the output (src/gql/) is not committed.
//
// The live-status subscriptions follow a contract agreed ahead of the server's support
// (subscriptions.graphql). While ../schema.graphql has no Subscription type that file is
// added to it here; once the served schema has one, the served one alone is used, so an
// operation that does not match it fails the build.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { readFileSync } from 'node:fs';

const served = readFileSync('../schema.graphql', 'utf8');
const hasSubscriptions = /^type Subscription\b/m.test(served);
if (!hasSubscriptions) {
  console.warn('console codegen: ../schema.graphql has no Subscription type; using subscriptions.graphql (the contract)');
}

const config: CodegenConfig = {
  schema: hasSubscriptions ? '../schema.graphql' : ['../schema.graphql', 'subscriptions.graphql'],
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  silent: true,
  errorsOnly: true,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        onlyOperationTypes: true,
        strictScalars: true,
        scalars: { DateTime: 'string' },
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
