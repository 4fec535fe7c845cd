// One Vite build, several pages: every <name>.html listed in `pages` that
// exists becomes an entry (admin.html: the dashboard served by
// wardsync-server at /admin; index.html: the desktop app, served by Wails).
// A page added later needs only its HTML file and its name here.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));
const pages = ['admin', 'index'];
const input = Object.fromEntries(
  pages.filter((p) => existsSync(resolve(root, `${p}.html`))).map((p) => [p, resolve(root, `${p}.html`)]),
);

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    // dist is emptied, then its placeholder (which `go vet` needs for
    // frontend/embed.go on a fresh clone) is put back.
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    rollupOptions: { input },
  },
  plugins: [
    {
      name: 'wardsync-keep-dist-placeholder',
      closeBundle() {
        mkdirSync(resolve(root, 'dist'), { recursive: true });
        writeFileSync(resolve(root, 'dist/.keep'), '');
      },
    },
  ],
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
