import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Two pages share one module graph: the dashboard (index.html) and the
// field worker's page (worker.html). The Go package embeds dist/.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'index.html'),
        worker: resolve(import.meta.dirname, 'worker.html'),
      },
    },
  },
  server: {
    // `npm run dev` against a running dispatchd on the default address.
    proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
