import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Other people's brokers (slow to boot): `npm run interop`, vitest.interop.config.ts.
    exclude: [...configDefaults.exclude, 'test/interop/**'],
    // Integration tests start real mosquitto/socat processes; give them room on a 2-core box.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Both cores: vitest's default on 2 cores is one worker, which made the suite twice as long (about
    // 8.5 min instead of 4.5); the tests wait for conditions, not for fixed times, so load does not fail them.
    maxWorkers: 2,
    // Kills helper processes (mosquitto, socat, gateways) a failed test left running.
    setupFiles: ['test/harness/setup.ts'],
  },
});
