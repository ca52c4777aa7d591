/**
 * What an idle agent costs the coordinator, in process, on a real SQLite
 * store: the CPU of one heartbeat (JSON decode and check, the registry's read of
 * the agent and its batched last_seen write) and of one liveness sweep (every
 * online agent and running attempt read), with N agents each running an
 * attempt. The baseline, in the same run, is what the registry used before:
 * zod's HeartbeatSchema and the full-row reads (AgentsTable#get per heartbeat,
 * #list per sweep), against the hand-checked decoder and the narrow reads it
 * uses now (#liveness, #listLiveness); the decoders also alternate one call
 * every 15 ms, as the farm calls them (cold). CPU is the process's
 * user + system time; the store is on tmpfs (/dev/shm) unless --dir says
 * otherwise.
 *
 *   node --import tsx bench/heartbeat-path.bench.ts [--agents 64,256] [--beats 20000] [--dir PARENT]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../coordinator/store/store.ts";
import { AgentRegistry } from "../coordinator/agents/agent-registry.ts";
import { ClaimService } from "../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../coordinator/dispatch/farm-policy.ts";
import { HeartbeatSchema, decodeJson, encodeJson, type Heartbeat } from "../shared/protocol/messages.ts";
import { decodeHeartbeat } from "../shared/protocol/heartbeat-decoder.ts";
import { insertAgent, insertJob } from "../test/helpers/store-fixture.ts";
import { benchLogger, fileSystemType, intFlag, intListFlag, parentDirFlag, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const log = benchLogger("bench-heartbeat-path");

/** CPU microseconds per call of fn, over n calls after a warm-up. */
function cpuUsPer(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function seed(dir: string, agents: number): Store {
  const store = Store.open(join(dir, `store-${agents}.sqlite`));
  const job = insertJob(store, { id: "job_busy", frameEnd: agents - 1 });
  store.tx(() => {
    for (let i = 0; i < agents; i++) {
      const a = insertAgent(store, { id: `agt_${String(i).padStart(3, "0")}` });
      const chunkId = `${job.id}.c${i}`;
      store.chunks.insert({ id: chunkId, jobId: job.id, idx: i, frameStart: i, frameEnd: i, contextStart: i, contextEnd: i, updatedAt: 1_000 });
      store.chunks.transition(chunkId, "queued", 1_000, { dispatchId: `dsp_${i}` });
      store.attempts.insert({ id: `att_${i}`, chunkId, jobId: job.id, agentId: a.id, createdAt: 1_000 });
      store.chunks.transition(chunkId, "running", 1_000, { currentAttemptId: `att_${i}`, countAttempt: true });
    }
  });
  return store;
}

/** A heartbeat as agent/agent.ts sends it while running one attempt, with a few cached assets. */
function heartbeatBytes(agentId: string, i: number, seq: number): Uint8Array {
  const hb: Heartbeat = {
    agentId,
    name: agentId,
    status: "busy",
    attemptId: `att_${i}`,
    otherAttemptIds: [],
    note: "",
    loadedModels: ["a".repeat(64)],
    downKinds: [],
    cachedAssets: ["a".repeat(64), "b".repeat(64), "c".repeat(64)],
    progress: { attemptId: `att_${i}`, framesDone: 1, framesTotal: 4, elapsedMs: 250 },
    seq,
    sentAtMs: 1_700_000_000_000 + seq,
  };
  return encodeJson(hb);
}

/**
 * Decode CPU as the farm sees it: one heartbeat every few milliseconds with
 * other work between (here a sleep), so the decoder's code runs cold. zod's
 * schema (before) and the hand-checked decoder (now) alternate, call by call.
 */
async function sparseDecodeCpuUs(calls: number, gapMs: number): Promise<{ zodBefore: number; handCheckedNow: number; ratio: number }> {
  const bytes = heartbeatBytes("agt_000", 0, 1);
  let zod = 0;
  let hand = 0;
  for (let i = 0; i < calls; i++) {
    await new Promise((r) => setTimeout(r, gapMs));
    const c0 = process.cpuUsage();
    if (i % 2 === 0) decodeJson(HeartbeatSchema, bytes);
    else decodeHeartbeat(bytes);
    const c = process.cpuUsage(c0);
    if (i % 2 === 0) zod += c.user + c.system;
    else hand += c.user + c.system;
  }
  const half = calls / 2;
  return { zodBefore: round(zod / half, 1), handCheckedNow: round(hand / half, 1), ratio: round(hand / zod, 3) };
}

async function measure(dir: string, agents: number, beats: number) {
  const store = seed(dir, agents);
  let now = 10_000;
  const clock = () => now;
  const claims = new ClaimService(store, DEFAULT_FARM_POLICY, () => ({ input: { type: "generated", width: 8, height: 8, frames: 1, seed: 1 }, steps: [] }), clock, log, () => undefined);
  const registry = new AgentRegistry(store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock, log, () => undefined);
  const ids = Array.from({ length: agents }, (_, i) => `agt_${String(i).padStart(3, "0")}`);
  const wire = ids.map((id, i) => heartbeatBytes(id, i, i));
  try {
    // One heartbeat of every agent per heartbeatMs, as the farm sends them; the sweep twice per heartbeatMs.
    const step = DEFAULT_FARM_POLICY.heartbeatMs / agents;
    const decode = cpuUsPer(beats, (i) => decodeHeartbeat(wire[i % agents] as Uint8Array));
    const zodDecode = cpuUsPer(beats, (i) => decodeJson(HeartbeatSchema, wire[i % agents] as Uint8Array));
    const heartbeat = cpuUsPer(beats, (i) => {
      now += step;
      registry.heartbeat(decodeHeartbeat(wire[i % agents] as Uint8Array));
    });
    const sweeps = Math.max(20, Math.floor(beats / agents));
    const beatsOnly = ids.map((id, i) => ({ agentId: id, name: id, status: "busy", attemptId: `att_${i}`, seq: 0, sentAtMs: 0 }));
    const heartbeatNoDecode = cpuUsPer(beats, (i) => registry.heartbeat(beatsOnly[i % agents] as Heartbeat));
    // Each sweep follows one heartbeat of every agent (or they would be lost): their cost, measured above, is taken off.
    const sweep =
      cpuUsPer(sweeps, () => {
        now += DEFAULT_FARM_POLICY.heartbeatMs / 2;
        for (const hb of beatsOnly) registry.heartbeat(hb);
        registry.sweep();
      }) -
      agents * heartbeatNoDecode;
    const fullRead = cpuUsPer(beats, (i) => store.agents.get(ids[i % agents] as string));
    const narrowRead = cpuUsPer(beats, (i) => store.agents.liveness(ids[i % agents] as string));
    const fullList = cpuUsPer(sweeps, () => store.agents.list());
    const narrowList = cpuUsPer(sweeps, () => store.agents.listLiveness("online"));
    const perSecond = (agents * heartbeat + 2 * sweep) / 1000; // ms of CPU a second: N heartbeats and 2 sweeps
    return {
      agents,
      heartbeatCpuUs: round(heartbeat, 2),
      decodeCpuUs: { zodBefore: round(zodDecode, 2), handCheckedNow: round(decode, 2), ratio: round(decode / zodDecode, 3) },
      sweepCpuUs: round(sweep, 1),
      idleCpuMsPerAgentSecond: round(perSecond / agents, 4),
      agentReadCpuUs: { fullRowBefore: round(fullRead, 2), livenessNow: round(narrowRead, 2), ratio: round(narrowRead / fullRead, 3) },
      sweepListCpuUs: { fullRowsBefore: round(fullList, 1), livenessNow: round(narrowList, 1), ratio: round(narrowList / fullList, 3) },
    };
  } finally {
    registry.stop();
    store.close();
  }
}

async function heartbeatPathBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { agents: { default: "64,256" }, beats: { default: "20000" }, dir: { default: "" } });
  const counts = intListFlag("agents", f.agents, 1, 1024);
  const beats = intFlag("beats", f.beats, 100, 1_000_000);
  const parent = parentDirFlag(f.dir) ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
  return withTempDir("nightshift-bench-heartbeat-", parent, async (dir) => {
    const runs = [];
    for (const n of counts) runs.push(await measure(dir, n, beats));
    const sparseDecode = await sparseDecodeCpuUs(300, 15);
    return {
      benchmark: "heartbeat-path",
      runs,
      sparseDecodeCpuUs: sparseDecode,
      meaning:
        "CPU per heartbeat (decode + AgentRegistry#heartbeat, last_seen batched) and per liveness sweep, in process; idleCpuMsPerAgentSecond = one heartbeat per agent and two sweeps a second, per agent. decodeCpuUs, agentReadCpuUs and sweepListCpuUs: what the registry used before (zod, full-row reads: the baseline) against what it uses now, same run, in a tight loop; sparseDecodeCpuUs: the two decoders alternated, one call every 15 ms (cold code, as in the farm)",
      environment: { storeFileSystem: fileSystemType(dir), node: process.version },
    };
  });
}

runBench(() => heartbeatPathBench(process.argv.slice(2)));
