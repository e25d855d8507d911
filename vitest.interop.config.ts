import { defineConfig } from 'vitest/config';

/**
 * `npm run interop`: the gateway against brokers nobody on the project wrote (RabbitMQ). Apart
 * from `npm test` because such a broker takes 10 s or more to boot and loads both cores meanwhile,
 * which would disturb the timing-sensitive tests running beside it.
 */
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    setupFiles: ['test/harness/setup.ts'],
  },
});
