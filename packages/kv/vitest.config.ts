import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native tests share one machine with 2 cores: run files one at a time.
    fileParallelism: false,
  },
});
