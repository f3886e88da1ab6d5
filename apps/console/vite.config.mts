import { resolve } from 'path';
import { defineConfig } from 'vite';

/**
 * The console is static files served by the api at /console (apps/api/src/bootstrap/console-static.ts).
 * JSX goes through esbuild (no React plugin: no fast refresh needed for a build-only app).
 * `npm run build:console` builds it; `npm start` and the browser test build it when it is stale
 * (scripts/build.mjs). `npm run dev:console` serves it with hot reload against a running api.
 */
export default defineConfig({
  root: __dirname,
  base: '/console/',
  esbuild: { jsx: 'automatic' },
  logLevel: 'warn',
  build: {
    outDir: resolve(__dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      // Mantine marks its modules "use client" (for React server components); meaningless in a bundle.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: { '/v1': process.env.CONSOLE_API_URL ?? 'http://127.0.0.1:3000' },
  },
});
