// Vite for the web demo: root web-demo/, output web-demo/dist (served by the ledger at /).
// `npx vite --config web-demo/vite.config.ts` serves it with hot reload, proxying /graphql (HTTP and
// WebSocket) to a ledger on http://127.0.0.1:4000 (`npm start`).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:4000', ws: true },
    },
  },
});
