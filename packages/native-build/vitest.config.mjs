import { defineConfig } from 'vitest/config';

// Several tests compile C and C++ (an addon with its closure takes seconds, more on a busy machine).
export default defineConfig({ test: { include: ['test/**/*.test.mts'], testTimeout: 120_000 } });
