/**
 * BENCHMARK PROCESS: many in-process agents with the sleep executor
 * (agent/executors/sleep-executor.ts), driven by bench/scheduling.bench.ts
 * over the IPC channel, so that the coordinator runs in another process as it
 * would in a studio. Also runs the raw JetStream consumers of the baseline.
 */
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { natsClientTls } from "../../shared/tls/nats-tls.ts";
import { jetstream } from "@nats-io/jetstream";
import { Agent } from "../../agent/agent.ts";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { createChunkMeter } from "../../agent/probe/chunk-meter.ts";
import { createEstimateSource } from "../../agent/probe/estimate-source.ts";
import type { PowerSource } from "../../agent/probe/power-source-types.ts";
import { SleepExecutor } from "../../agent/executors/sleep-executor.ts";
import type { Executor } from "../../agent/executors/executor.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { benchLogger } from "../bench-cli.ts";
import { hostMs, type HostCommand, type HostReply, type StartEvent } from "./host-protocol.ts";

const log = benchLogger("bench-agent-host");
const agents: Agent[] = [];
let events: StartEvent[] = [];
let source: PowerSource | undefined;
// This process's event loop lateness between two "events" requests (BenchFarm.run asks at its release, and after
// the job's end): the 32 agents a host holds answer their chunks one after another, where a studio's agents are
// separate machines.
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

function reply(r: HostReply): void {
  process.send?.(r);
}

async function startAgents(c: Extract<HostCommand, { type: "start-agents" }>): Promise<void> {
  source ??= await createEstimateSource();
  const src = source;
  // One at a time: each enrollment reloads the nats-server's users, and a NATS connection made while
  // another enrollment's reload is in flight can be refused (Authorization Violation); retried below.
  for (const s of c.agents) {
    const dataDir = join(c.dir, s.name);
    const alog = log.child({ agent: s.name });
    const { credentials } = await enrollWithRetry(() => enrollLocalAgent({ coordinator: c.coordinator, joinToken: c.joinToken, dataDir, name: s.name, log: alog }), alog);
    for (let attempt = 1; ; attempt++) {
      const agent = new Agent({
        name: s.name,
        dataDir,
        modelsDir: BUNDLED_MODELS_DIR,
        coordinator: c.coordinator.address,
        credentials,
        tags: s.tags ?? [],
        gpus: [{ name: "sleep-executor card", vramBytes: s.vramBytes ?? 24 * 2 ** 30, uuid: "" }],
        newMeter: () => createChunkMeter({ source: src, intervalMs: 1000, idleWatts: null, log: alog }),
        drainTimeoutMs: 2000,
        log: alog,
        executorFactory: async () =>
          timed(s.name, new SleepExecutor({ msPerFrame: c.pace.msPerFrame, clock: c.pace.clock, speed: s.speed })),
      });
      try {
        await agent.start();
        agents.push(agent);
        break;
      } catch (err) {
        await agent.stop().catch(() => undefined);
        if (attempt >= 5) throw err;
        alog.warn({ attempt, err: (err as Error).message }, "agent start failed; retrying");
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  }
  reply({ type: "agents-started", count: agents.length });
}

/**
 * The executor with its chunk's start and last frame timed here on the host's
 * clock (the executor's own time is per-process, not comparable with the
 * bench's): the dispatch latency and the makespan split (makespan-split.ts).
 */
function timed(agent: string, inner: Executor): Executor {
  return {
    kind: inner.kind,
    load: () => inner.load(),
    close: () => inner.close(),
    async *run(task) {
      const e: StartEvent = { agent, jobId: task.jobId, chunkId: task.chunkId, attemptId: task.attemptId, atMs: hostMs(), frames: task.frames.length };
      events.push(e);
      let made = 0;
      for await (const frame of inner.run(task)) {
        if (++made === task.frames.length) e.endMs = hostMs();
        yield frame;
      }
    },
  };
}

/**
 * An enrollment whose TLS handshake timed out on a starved machine (128-256
 * agents on 2 cores) is tried again, 4 times at most, rather than ending the run.
 */
async function enrollWithRetry<T>(enroll: () => Promise<T>, alog: typeof log): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await enroll();
    } catch (err) {
      if (attempt >= 4) throw err;
      alog.warn({ attempt, err: (err as Error).message }, "enrollment failed; retrying");
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** The baseline: `consumers` connections pull from one shared durable consumer and ack, one message at a time, like agents do. */
async function rawConsume(c: Extract<HostCommand, { type: "raw-consume" }>): Promise<void> {
  let got = 0;
  let firstMs = 0;
  let lastMs = 0;
  const conns = await Promise.all(Array.from({ length: c.consumers }, () => connect({ servers: c.natsUrl, authenticator: jwtAuthenticator(c.jwt, new TextEncoder().encode(c.seed)), tls: natsClientTls(c.caPem) })));
  try {
    await Promise.all(
      conns.map(async (nc) => {
        const consumer = await jetstream(nc).consumers.get(c.stream, c.consumer);
        while (got < c.count) {
          const m = await consumer.next({ expires: 1000 });
          if (!m) continue;
          m.ack();
          const now = hostMs();
          if (got === 0) firstMs = now;
          got++;
          lastMs = now;
        }
      }),
    );
  } finally {
    await Promise.all(conns.map((nc) => nc.drain().catch(() => undefined)));
  }
  reply({ type: "raw-consumed", count: got, firstMs, lastMs });
}

async function stop(): Promise<void> {
  await Promise.all(agents.map((a) => a.drain().catch(() => undefined)));
  await source?.close().catch(() => undefined);
  reply({ type: "stopped" });
  process.disconnect?.();
}

process.on("message", (msg: HostCommand) => {
  const run = async (): Promise<void> => {
    if (msg.type === "start-agents") await startAgents(msg);
    else if (msg.type === "events") {
      reply({ type: "events", events, loopDelay: { p50Ms: ms(loopDelay.percentile(50)), p99Ms: ms(loopDelay.percentile(99)), maxMs: ms(loopDelay.max) } });
      events = [];
      loopDelay.reset();
    } else if (msg.type === "raw-consume") await rawConsume(msg);
    else await stop();
  };
  run().catch((err: unknown) => reply({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});
process.on("disconnect", () => setTimeout(() => process.exit(0), 5000).unref());
