import { afterAll } from 'vitest';
import { killTrackedChildren } from './children.js';

// Registered before any test file's own hooks, so it runs after them (vitest runs after-hooks as a
// stack): a file's graceful stops go first, then whatever a failed test left behind is killed.
afterAll(() => {
  killTrackedChildren();
});
