import { defineConfig } from 'vitest/config';

// `stadium-source`: the package's exports lead to the TypeScript sources instead of dist/, so tests
// and examples/ import `stadium/sim` and the rest by the package's name without a build. The rest
// are Vite's own defaults for code run in Node, which a list given here replaces.
const conditions = ['stadium-source', 'module', 'node', 'development|production'];

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    include: ['**/*.test.ts', '**/*.test.tsx'],
    exclude: ['node_modules/**', '.stadium/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: [
        'core/**/*.ts',
        'sim/**/*.ts',
        'prod/**/*.ts',
        'cli/**/*.ts',
        'cli/**/*.tsx',
        'properties/**/*.ts',
        'client/**/*.ts',
        'chaos/**/*.ts',
      ],
      exclude: ['**/*.test.ts', '**/*.test.tsx'],
      reporter: ['text-summary', 'text'],
      thresholds: { 'core/**/*.ts': { lines: 90 } },
    },
  },
});
