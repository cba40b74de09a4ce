import { defineConfig } from 'vitest/config';

/**
 * The property suite alone, as mutation testing runs it: the generated failure scenarios of
 * `stadium check` and the model-based tests of the store and the frontend. No unit test: the point
 * is to measure what the property runs catch by themselves.
 */
export default defineConfig({
  test: {
    include: [
      'properties/delivery.property.test.ts',
      'properties/frontend.model.test.ts',
      'properties/store.model.test.ts',
    ],
    testTimeout: 120_000,
  },
});
