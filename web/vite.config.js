import { defineConfig } from 'vite';

// The build goes to dist/, which the Go binary embeds (web/embed.go).
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // MapLibre is one large module; splitting it gains nothing here.
    chunkSizeWarningLimit: 2000,
  },
});
