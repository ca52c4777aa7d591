import type { TestContext } from "node:test";

type Cleanup = () => void | Promise<void>;
const stacks = new WeakMap<TestContext, Cleanup[]>();

/**
 * Registers a cleanup for the end of the test. Unlike bare t.after (which runs
 * hooks in registration order), cleanups run last-registered-first, so what was
 * opened inside a temp dir is closed before the dir is removed. Every cleanup
 * runs even if an earlier one throws; the first error is rethrown.
 */
export function defer(t: TestContext, fn: Cleanup): void {
  let stack = stacks.get(t);
  if (!stack) {
    const fresh: Cleanup[] = [];
    stack = fresh;
    stacks.set(t, fresh);
    t.after(async () => {
      let first: unknown;
      while (fresh.length > 0) {
        const next = fresh.pop() as Cleanup;
        try {
          await next();
        } catch (err) {
          first ??= err;
        }
      }
      if (first !== undefined) throw first;
    });
  }
  stack.push(fn);
}
