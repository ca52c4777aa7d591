/**
 * Why this file exists: the scheduling bench prices what idle agents cost
 * the coordinator (heartbeats, telemetry, sweeps, the dispatcher's tick, and
 * each agent's open claim and upload streams) by its process's CPU over a
 * window with the same agents and no job, right after a run. Two things the
 * eighth round added fell inside that window and were counted as idle cost
 * (README, "What an idle coordinator costs: the eighth round's rise found"):
 *
 * - the bench's own reading of /proc (cpu-cores.ts's coresMark: every
 *   process's stat, every child's threads; 4-12 ms of CPU a call on this VM)
 *   was taken after the window's CPU mark;
 * - each agent then closed its upload stream 2 s after its last upload was
 *   answered, so the window, which began 300 ms after the job, held one
 *   stream close per agent: a cost each agent paid once when it fell idle,
 *   not per second of idleness. The ninth round began the window after those
 *   closes (a 2.7 s settle).
 *
 * Since the tenth round an agent's upload stream stays open while the agent
 * runs (agent/grpc/upload-stream.ts): nothing closes when an agent falls
 * idle, and the window is measured with every agent's upload stream (and
 * claim stream) open and idle. That is what an idle agent costs the
 * coordinator now, keepalive pings included, and the window counts it. The
 * settle before it only lets the run's tail pass (the job's end, the last
 * answers' staging clean-up); the marks are taken outside it, and what the
 * settle itself cost above the idle rate is reported apart (`afterRunCpuMs`),
 * neither the idle rate nor in the release-to-done figure.
 */

/** From a run's end to its idle window: the run's tail (the job's end, the last commits' clean-up), with a margin for a loaded machine. */
export const IDLE_SETTLE_MS = 700;

export interface IdleWindow<T> {
  /** The process's CPU (user + system) per second of the window, ms. */
  cpuMsPerSecond: number;
  /** The process's CPU over the settle above the window's rate, ms (never below 0). */
  afterRunCpuMs: number;
  /** What `around.end` returned (cores used over the window). */
  around: T;
}

/**
 * Waits `settleMs`, then measures this process's CPU over `seconds`.
 * `around.start` runs before the window's CPU mark and `around.end` after
 * its last, so neither is counted (they read /proc, which costs CPU).
 */
export async function measureIdleWindow<M, T>(seconds: number, settleMs: number, around: { start: () => M; end: (m: M) => T }): Promise<IdleWindow<T>> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const settle0 = process.cpuUsage();
  const s0 = performance.now();
  await sleep(settleMs);
  const settled = process.cpuUsage(settle0);
  const settleSeconds = (performance.now() - s0) / 1000;
  const mark = around.start();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallSeconds = (performance.now() - t0) / 1000;
  const result = around.end(mark);
  const cpuMsPerSecond = (cpu.user + cpu.system) / 1000 / wallSeconds;
  return { cpuMsPerSecond, afterRunCpuMs: Math.max(0, (settled.user + settled.system) / 1000 - cpuMsPerSecond * settleSeconds), around: result };
}
