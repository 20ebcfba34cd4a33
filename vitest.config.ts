import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql for everyone. graphql@16 ships CJS (index.js, what Node's resolver — and so yoga,
    // Pothos and graphql-tools — load) next to ESM (index.mjs, what vite's "module" field picks for our
    // own sources). Two copies mean two GraphQLError classes: `instanceof` fails across them, and yoga
    // then masks every GraphQLError our resolvers and scalars throw (BAD_USER_INPUT included) as
    // "Unexpected error." — under vitest only, never under `npm start`.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
