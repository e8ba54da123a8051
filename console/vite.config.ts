// Builds the console into dist/: index.html and assets/<name>-<hash>.{js,css}, served by
// the service at /console (certreissue/console.py). One script, one stylesheet, nothing
// inline (the page's CSP is script-src 'self', style-src 'self'), nothing from a CDN.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  // `npm run dev`: Vite's dev server on :5173, the API (and its WebSocket) of `make run`
  // behind it, so the console is developed against a running service.
  server: {
    port: 5173,
    strictPort: true,
    proxy: { '/graphql': { target: process.env.CERTS_API ?? 'http://127.0.0.1:8000', ws: true } },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    manifest: true,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    // Every asset a file of its own: no data: URLs (the CSP's img-src is 'self' alone).
    assetsInlineLimit: 0,
  },
});
