/**
 * The dashboard's build: Preact + TypeScript, bundled by Vite into dist/dashboard, which the
 * control plane serves. Everything the page needs is in that folder (no CDN, no web fonts).
 * `npx vite --config src/dashboard/vite.config.ts` serves it with hot reload, calling the API of
 * a `berth up` on 127.0.0.1:4000 (or $BERTH_API).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.BERTH_API ?? 'http://127.0.0.1:4000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Nothing inlined as data: URLs, no inline script: the page's CSP allows only its own files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': { target: api, changeOrigin: true } },
  },
});
