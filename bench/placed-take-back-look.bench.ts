/**
 * The cost of one look of the placed take-back (coordinator/dispatch/placed-take-back.ts), which the dispatch passes
 * make at most every 0.5 s: both rules (passed over and unclaimed) against the passed-over rule alone as the
 * baseline, alternated round by round in the same run, on a real SQLite store holding `--agents` agents with
 * `--attempts` finished attempts each (every other agent running one more), 200 chunks queued and `--placed` of them
 * placed on agents' own subjects. `--aged 1` makes the placed chunks older than the bound (the unclaimed rule's
 * reads of the agents' attempts run then; the usual state is younger: a healthy agent claims at once). Nothing is
 * ever due (the bound is set past every age), so each look reads and takes nothing back. Wall time per look, µs.
 *
 *   node --import tsx bench/placed-take-back-look.bench.ts [--agents 64] [--attempts 100] [--placed 8] [--aged 0] [--looks 500] [--rounds 5]
 */
import { join } from "node:path";
import { PlacedTakeBack } from "../coordinator/dispatch/placed-take-back.ts";
import { Store } from "../coordinator/store/store.ts";
import { insertAgent, insertChunks, insertJob } from "../test/helpers/store-fixture.ts";
import { intFlag, median, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const flags = parseFlags(process.argv.slice(2), {
  agents: { default: "64" },
  attempts: { default: "100" },
  placed: { default: "8" },
  aged: { default: "0" },
  looks: { default: "500" },
  rounds: { default: "5" },
});
const AGENTS = intFlag("agents", flags.agents, 1, 1024);
const ATTEMPTS = intFlag("attempts", flags.attempts, 1, 100_000);
const PLACED = intFlag("placed", flags.placed, 0, AGENTS);
const AGED = intFlag("aged", flags.aged, 0, 1) === 1;
const LOOKS = intFlag("looks", flags.looks, 1, 1_000_000);
const ROUNDS = intFlag("rounds", flags.rounds, 1, 100);
const QUEUED = 200;
/** The bound the looks use: past every age in the store, so nothing is ever taken back. */
const NEVER_MS = 1e12;

function seed(store: Store): void {
  const job = insertJob(store, { state: "running" });
  const agents = Array.from({ length: AGENTS }, (_, i) => insertAgent(store, { id: `agt-${i}` }).id);
  const chunks = insertChunks(store, job.id, Array.from({ length: Math.max(QUEUED, 1) }, (_, i) => [i * 10, i * 10 + 9] as const));
  const ins = store.db.prepare(`INSERT INTO attempts (id, chunk_id, job_id, agent_id, state, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  // Placed at 5 s (aged: looked at 1e12 + 10 s, so older than the bound) or at the looks' own time.
  const placedAt = AGED ? 5_000 : 2 * NEVER_MS;
  store.tx(() => {
    let n = 0;
    for (const [i, a] of agents.entries()) {
      for (let k = 0; k < ATTEMPTS; k++) ins.run(`att-${n++}`, chunks[n % chunks.length]!.id, job.id, a, "committed", 1_000 + k, 1_001 + k);
      if (i % 2 === 0) ins.run(`att-${n++}`, chunks[n % chunks.length]!.id, job.id, a, "running", 1_000 + ATTEMPTS, null);
    }
    for (let i = 0; i < QUEUED; i++) store.chunks.transition(chunks[i]!.id, "queued", placedAt, { dispatchId: `dsp-${i}`, placedAgentId: i < PLACED ? agents[i]! : null });
  });
}

/** µs per look over LOOKS looks, each past the last by more than the look interval. */
function usPerLook(store: Store, unclaimed: boolean): number {
  const tb = new PlacedTakeBack(store, { unclaimed, afterMs: NEVER_MS, startedAt: 0 });
  const from = AGED ? NEVER_MS + 10_000 : 2 * NEVER_MS;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKS; i++) tb.takeBack(from + i * 1e6);
  return Number(process.hrtime.bigint() - t0) / 1e3 / LOOKS;
}

runBench(() =>
  withTempDir("bench-placed-take-back-", undefined, async (dir) => {
    const store = Store.open(join(dir, "store.sqlite"));
    try {
      seed(store);
      usPerLook(store, true);
      usPerLook(store, false);
      const both: number[] = [];
      const passedOverOnly: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        both.push(usPerLook(store, true));
        passedOverOnly.push(usPerLook(store, false));
      }
      return {
        bench: "placed-take-back-look",
        agents: AGENTS, attemptsPerAgent: ATTEMPTS, queued: QUEUED, placedWaiting: PLACED, placedOlderThanBound: AGED,
        usPerLook: { bothRules: round(median(both), 1), passedOverOnly: round(median(passedOverOnly), 1) },
        ratio: round(median(both) / median(passedOverOnly)),
        rounds: { bothRules: both.map((x) => round(x, 1)), passedOverOnly: passedOverOnly.map((x) => round(x, 1)) },
      };
    } finally {
      store.close();
    }
  }),
);
