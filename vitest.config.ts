import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts', '**/*.test.tsx'],
    exclude: ['node_modules/**', '.stadium/**'],
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
