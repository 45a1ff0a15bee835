/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const DAEMON = process.env.SEKIA_DASHBOARD ?? 'http://127.0.0.1:7777';

// Drops the browser's Origin header on proxied requests (see `server.proxy`).
function sameOrigin(proxy: { on(event: 'proxyReq', f: (req: { removeHeader(name: string): void }) => void): void }) {
  proxy.on('proxyReq', (req) => req.removeHeader('origin'));
}

// One build for both hosts: the Tauri window (`frontendDist: ../ui/dist`) and the daemon's
// browser dashboard (served at `/`). Relative asset paths make it work under either.
export default defineConfig({
  base: './',
  plugins: [svelte({ emitCss: true })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // No inline <script>/<style>, no data: modules: the CSP is script-src/style-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
  },
  server: {
    port: 5173,
    strictPort: false,
    // `npm run dev` against a daemon's dashboard (or `npm run mock`) on 127.0.0.1:7777. The
    // dashboard refuses other Host headers and cross-origin requests (DNS rebinding, CSRF), so
    // the proxy presents itself as same-origin: Host rewritten, Origin dropped.
    proxy: {
      '/api': { target: DAEMON, changeOrigin: true, configure: sameOrigin },
      // The page is served by Vite here, not by the daemon, so the daemon never set its CSRF
      // cookie: the HTTP backend fetches this once (the daemon's own page, which sets it).
      '/__sekia/page': { target: DAEMON, changeOrigin: true, configure: sameOrigin, rewrite: () => '/' },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
