import assert from "node:assert/strict";
import { test } from "node:test";
import { measureIdleWindow } from "../../bench/scheduling/idle-window.ts";

/**
 * The scheduling bench's idle window (bench/scheduling/idle-window.ts): what
 * it counts as idle cost. In the eighth round the bench's own /proc reads and
 * the agents' upload-stream closes fell inside it and read as a rise of the
 * coordinator's idle cost. Since the tenth round the agents' upload streams
 * stay open, so the window holds no stream closes: it is measured with the
 * streams open and idle, which is the idle cost now.
 */

/** Spends `ms` of this process's CPU time (a busy loop, bounded by the CPU it measures). */
function burnCpu(ms: number): void {
  const c0 = process.cpuUsage();
  for (let i = 0; i < 1e9; i++) {
    const c = process.cpuUsage(c0);
    if ((c.user + c.system) / 1000 >= ms) return;
  }
}

test("the marks taken around the idle window (the bench's /proc reads) are not counted in its CPU rate", async () => {
  const w = await measureIdleWindow(0.5, 50, { start: () => burnCpu(500), end: () => (burnCpu(500), "cores") });
  assert.equal(w.around, "cores");
  // An idle test process uses a few ms a second; a mark inside the half-second window would add its 500 ms
  // (over the window and the mark's own wall time: still above 150 ms/s with the mark three times slower than its CPU on a loaded machine).
  assert.ok(w.cpuMsPerSecond < 100, `idle rate ${w.cpuMsPerSecond.toFixed(1)} ms/s counts a mark's 500 ms`);
});

test("work in the settle after a run (the run's tail: the job's end, the last commits' clean-up) goes to afterRunCpuMs, not to the idle rate", async () => {
  const timer = setTimeout(() => burnCpu(200), 50);
  const w = await measureIdleWindow(1, 600, { start: () => 0, end: () => 0 });
  clearTimeout(timer);
  assert.ok(w.afterRunCpuMs >= 150, `the settle's 200 ms shows as ${w.afterRunCpuMs.toFixed(1)} ms after the run`);
  assert.ok(w.cpuMsPerSecond < 150, `idle rate ${w.cpuMsPerSecond.toFixed(1)} ms/s counts the settle's work`);
});
