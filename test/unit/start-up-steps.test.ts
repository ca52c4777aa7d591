import assert from "node:assert/strict";
import { test } from "node:test";
import { StartUpSteps } from "../../coordinator/start-up-steps.ts";

test("start-up steps: the launch before the first step, each step's own time, and the total since the process started", () => {
  const times = [1200.4, 1230, 2230.6, 2240];
  const steps = new StartUpSteps(() => times.shift() as number);
  steps.mark("store");
  steps.mark("natsServer");
  steps.mark("grpc");
  assert.deepEqual(steps.summary(), { launch: 1200, store: 30, natsServer: 1001, grpc: 9, total: 2240 });
});
