// graphql-codegen: typed operations (TypedDocumentNode) from schema/schema.graphql and the .graphql
// documents of the tests and the web demo. `npm run codegen` regenerates; the output is committed.
import type { CodegenConfig } from '@graphql-codegen/cli';

const scalars = {
  Sequence: 'number',
  Money: 'number',
  DateTime: 'string',
};

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: true,
  importExtension: '.ts',
  generates: {
    'test/generated/': {
      documents: ['test/operations/**/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { scalars, enumsAsTypes: true, useTypeImports: true },
    },
    // The browser gets plain query strings (no graphql-js in the bundle): graphql-ws and fetch send them as they are.
    'web-demo/src/generated/': {
      documents: ['web-demo/src/**/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { scalars, enumsAsTypes: true, useTypeImports: true, documentMode: 'string' },
    },
  },
};

export default config;
