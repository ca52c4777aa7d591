/**
 * The fault soak: rounds of a few hundred frames while agents, links, the
 * coordinator and its nats-server are killed and restored at seeded random
 * points; then the output root is checked against the expected frames and
 * checksums. Ends with one line:
 *   faults: N injected, E expected, P present, D duplicates, C corrupt, L lost, recovery p50 Xs p99 Ys
 * (recovery counts only the time it was possible: see MEASURED_HOW; stderr has the times from the fault too;
 * "no recovery measured" instead of the percentiles when no fault gave one).
 * Exit 0 only when nothing is lost, duplicated or corrupt.
 *
 *   npm run test:faults [-- --rounds 3 --frames 300 --agents 3 --faults 6 --seed 7 --no-netns --kinds kill-nats,cut-link --from-source]
 *   npm run test:faults:cluster   (= --cluster: three nats-server nodes on loopback, R3; kill-nats-node
 *                                  SIGKILLs one node and restarts it after 1-5 s, one node down at a time)
 *
 * The farm's processes run the CLI compiled once at the start (scripts/build.mjs
 * into .tmp/, as a release runs dist/): a restarted coordinator does not spend
 * seconds compiling TypeScript, which no studio's does. --from-source runs
 * them through tsx instead (how every soak ran before the sixth round).
 *
 * With SOAK_LOG_DIR set, every process's output is written there when it ends
 * (set NIGHTSHIFT_LOG_LEVEL=debug for the detail).
 *
 * As root with `ip`, the farm runs on network namespaces (coordinator and each
 * agent on its own host) and link cuts are among the faults; otherwise it runs
 * on loopback without link cuts and says so. Bounded: every wait has a limit,
 * and --max-minutes (default 14) is strict: no fault is injected past it,
 * faults still pending get FAULT_GRACE_MS more, and recoveries still watched
 * then are cut off and counted as at least the time watched.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Lan, lanUnavailableReason } from "../lan/netns.ts";
import { freePort } from "../support/free-port.ts";
import { readStore } from "../support/read-store.ts";
import { checkOutput } from "../support/output-check.ts";
import { expectedGeneratedShas } from "../support/expected-frames.ts";
import { generatedJob } from "../support/farm.ts";
import { planFaults, percentile, recoverySummary, type FaultKind, type PlannedFault } from "./fault-schedule.ts";
import { SoakFarm } from "./soak-farm.ts";
import { FarmAvailability } from "./farm-availability.ts";
import { LocalNatsCluster } from "../support/local-nats-cluster.ts";
import { buildCompiledCli, type CompiledCli } from "../support/compiled-cli.ts";
import YAML from "yaml";

interface Options {
  rounds: number;
  frames: number;
  agents: number;
  faults: number;
  seed: number;
  width: number;
  height: number;
  chunk: number;
  netns: boolean;
  maxMinutes: number;
  /** Only these fault kinds (comma list); all kinds when empty. */
  kinds: FaultKind[];
  /** A three-node NATS cluster instead of the embedded server (loopback only). */
  cluster: boolean;
  /** Run the farm's processes through tsx (compiling at each start) instead of the compiled CLI. */
  fromSource: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { rounds: 3, frames: 300, agents: 3, faults: 6, seed: 7, width: 640, height: 360, chunk: 10, netns: true, maxMinutes: 14, kinds: [], cluster: false, fromSource: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--no-netns") {
      o.netns = false;
      continue;
    }
    if (a === "--from-source") {
      o.fromSource = true;
      continue;
    }
    if (a === "--cluster") {
      o.cluster = true;
      o.netns = false; // the nodes listen on the root namespace's loopback
      continue;
    }
    if (a === "--kinds") {
      const kinds = (argv[++i] ?? "").split(",").filter(Boolean);
      const known: FaultKind[] = ["kill-agent", "kill-coordinator", "kill-nats", "cut-link", "kill-nats-node"];
      const bad = kinds.find((k) => !known.includes(k as FaultKind));
      if (kinds.length === 0 || bad !== undefined) {
        process.stderr.write(`soak: --kinds takes a comma list of ${known.join(", ")}${bad ? ` (not ${bad})` : ""}\n`);
        process.exit(2);
      }
      o.kinds = kinds as FaultKind[];
      continue;
    }
    const key = a.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    const v = Number(argv[++i]);
    if (!(key in o) || typeof o[key] !== "number" || !Number.isFinite(v) || v < 0) {
      process.stderr.write(`soak: bad option ${a}\n`);
      process.exit(2);
    }
    (o as unknown as Record<string, number>)[key] = v;
  }
  return o;
}

interface Recovery {
  kind: FaultKind;
  /** From the fault until it was done, counting only the time recovery was possible (farm-availability.ts). */
  seconds: number;
  /** From the fault itself until it was done. */
  fromFaultSeconds: number;
}

/** How long the soak watches one fault's recovery. */
const RECOVERY_WAIT_MS = 60_000;

/** Past --max-minutes, how long faults already injected may take to be restored and their recoveries seen. */
const FAULT_GRACE_MS = 20_000;

/** Recovery watches running now, by fault: at the bound (plus the grace) they are cut off and counted as at least the time watched. */
const openWatches = new Map<symbol, { kind: FaultKind; t0: number; label: string }>();

/** `label` names what is watched in the recovery's line (the agent and the chunk it held), to find it in the kept logs. */
function startWatch(kind: FaultKind, t0: number, label = ""): symbol {
  const key = Symbol(kind);
  openWatches.set(key, { kind, t0, label });
  return key;
}

/** The fault's agent, the chunk it held and the wall-clock time, as the recovery and fault lines name them. */
const heldLabel = (agent: number, chunkId: string, t0: number): string => `agent-${agent + 1}, ${chunkId.slice(chunkId.lastIndexOf(".") + 1)}, at ${new Date(t0).toISOString().slice(11, 23)}`;

/** How each recovery time is measured; printed with the results. */
const MEASURED_HOW =
  "recovery is measured per fault from the fault until: for an agent kill or link cut, the chunk the agent held is " +
  "claimed again (or done); for a coordinator, nats-server or NATS node kill, the farm claims work again; counting only " +
  "the time during which recovery was possible (at least one agent running with its link up, the coordinator up, " +
  "its own restart counted for a coordinator kill, and nats-server up, from its kill until the coordinator's NATS connection " +
  "is back, its own outage counted for a nats-server kill). 'from fault' counts all of it";

/** Waits for `p`, but not past `deadline` (ms since the epoch): then throws, naming `what`. */
async function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than --max-minutes`)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const log = (msg: string): void => void process.stderr.write(`soak: ${msg}\n`);

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const deadline = Date.now() + o.maxMinutes * 60_000;
  const lanReason = o.netns ? lanUnavailableReason() : "--no-netns";
  const dir = mkdtempSync(join(tmpdir(), "ns-soak-"));
  let lan: Lan | undefined;
  let farm: SoakFarm | undefined;
  let cluster: LocalNatsCluster | undefined;
  let compiled: CompiledCli | undefined;
  try {
    if (lanReason === undefined) lan = await Lan.create({ hosts: o.agents + 1 });
    else log(`running on loopback, no link cuts (${o.cluster ? "--cluster" : lanReason})`);
    const natsKinds: FaultKind[] = o.cluster ? ["kill-nats-node", "kill-nats-node"] : ["kill-nats"];
    const allKinds: FaultKind[] = ["kill-agent", "kill-coordinator", ...natsKinds, ...(lan ? (["cut-link", "cut-link"] as const) : [])];
    const kinds = o.kinds.length > 0 ? allKinds.filter((k) => o.kinds.includes(k)) : allKinds;
    if (kinds.length === 0) throw new Error(`none of --kinds ${o.kinds.join(",")} can run here${lan ? "" : " (cut-link needs network namespaces)"}`);
    let configFile: string | undefined;
    if (o.cluster) {
      cluster = await LocalNatsCluster.create(join(dir, "nats-cluster"), join(dir, "data"));
      await cluster.startAll();
      configFile = join(dir, "coordinator-cluster.yaml");
      writeFileSync(configFile, YAML.stringify(cluster.coordinatorConfig()));
      log(`NATS cluster up: ${cluster.files.urls.join(",")}`);
    }
    const farmStart = Date.now();
    if (!o.fromSource) {
      compiled = buildCompiledCli();
      log(`CLI compiled in ${((Date.now() - farmStart) / 1000).toFixed(1)} s; the farm runs it (--from-source: through tsx)`);
    } else log("the farm runs the CLI from source through tsx (--from-source): every start compiles TypeScript");
    farm = new SoakFarm(dir, o.agents, lan ? 17400 : await freePort(), lan, configFile, compiled?.main);
    const availability = new FarmAvailability(o.agents, Date.now());
    const up = farm;
    // Start-up counts against --max-minutes too: a farm that cannot start within it ends the soak (a harness failure, named).
    await beforeDeadline(
      (async () => {
        await up.startCoordinator();
        await up.createToken();
        for (let i = 0; i < o.agents; i++) await up.startAgent(i);
      })(),
      deadline,
      "farm start-up",
    );
    log(`farm up after ${((Date.now() - farmStart) / 1000).toFixed(1)} s: coordinator ${farm.address}, ${o.agents} agents${lan ? " on network namespaces" : " on loopback"}`);
    const expected = await expectedGeneratedShas(o.frames, o.width, o.height, 3);

    const recoveries: Recovery[] = [];
    let injected = 0;
    let expectedTotal = 0;
    let present = 0;
    let corrupt = 0;
    let lost = 0;
    let duplicates = 0;
    const harnessErrors: string[] = [];
    const db = readStore(join(farm.dataDir, "nightshift.db"));
    try {
      for (let round = 0; round < o.rounds && Date.now() < deadline; round++) {
        const jobFile = join(dir, `round-${round}.json`);
        writeFileSync(jobFile, JSON.stringify(generatedJob(`soak-${round}`, o.frames, o.width, o.height, o.chunk)));
        const jobId = await farm.submit(jobFile);
        const start = Date.now();
        const plan = planFaults({ seed: o.seed * 1000 + round, faults: o.faults, agents: o.agents, windowSeconds: 12, kinds, minGapSeconds: 1.5 });
        log(`round ${round + 1}: job ${jobId}, ${plan.length} faults planned`);
        const pending: Array<Promise<void>> = [];
        let cutOff = false; // set at the bound: late results of faults still pending are no longer counted
        const busy = new Set<number>(); // agents under a fault right now: faults on one agent never overlap
        let coordinatorFault: Promise<unknown> = Promise.resolve();
        for (const planned of plan) {
          if (start + planned.atSeconds * 1000 >= deadline) {
            log(`--max-minutes reached: no more faults injected (${plan.length - plan.indexOf(planned)} of the plan left out)`);
            break;
          }
          const wait = start + planned.atSeconds * 1000 - Date.now();
          if (wait > 0) await sleep(wait);
          if (jobState(db, jobId) !== "running" && jobState(db, jobId) !== "queued") break;
          const f = retarget(planned, busy, o.agents);
          if (!f) continue;
          const agentFault = f.kind === "kill-agent" || f.kind === "cut-link";
          if (agentFault) busy.add(f.agent);
          // Coordinator-side faults wait for the previous one's restart: killing a coordinator that is still starting tests the harness, not the farm.
          // NATS nodes likewise go down one at a time, so two of three keep the quorum. One whose turn comes past the bound is not injected.
          const target = farm;
          const injectNow = (): Promise<Recovery | undefined> => {
            if (Date.now() >= deadline) {
              log(`  ${f.kind} not injected: its turn came past --max-minutes`);
              return Promise.resolve(undefined);
            }
            injected++;
            return inject(target, lan, db, jobId, f, cluster, availability);
          };
          const run = agentFault ? injectNow() : coordinatorFault.then(injectNow);
          if (!agentFault) coordinatorFault = run.catch(() => undefined);
          pending.push(
            run
              .then((r) => void (r && !cutOff && recoveries.push(r)))
              .catch((err: unknown) => void (!cutOff && harnessErrors.push(`${f.kind}: ${(err as Error).message.slice(0, 300)}`)))
              .finally(() => agentFault && busy.delete(f.agent)),
          );
        }
        const settled = await Promise.race([Promise.all(pending).then(() => true), sleep(Math.max(0, deadline + FAULT_GRACE_MS - Date.now())).then(() => false)]);
        if (!settled) {
          cutOff = true;
          log(`--max-minutes and ${FAULT_GRACE_MS / 1000} s of grace passed with faults pending: ${openWatches.size} recovery watch(es) cut off`);
          for (const [key, w] of openWatches) {
            const r = recovery(w.kind, w.t0, undefined, availability, key, Date.now());
            if (r) recoveries.push(r);
          }
        }
        const final = await waitForJob(db, jobId, Math.min(deadline - Date.now(), 5 * 60_000));
        const out = db.get<{ output_dir: string }>(`SELECT output_dir FROM jobs WHERE id = ?`, jobId)?.output_dir ?? "";
        const check = checkOutput(farm.outputRoot, out, expected);
        const twice = db.all<{ n: number }>(
          `SELECT COUNT(*) AS n FROM attempts WHERE job_id = ? AND state = 'committed' GROUP BY chunk_id HAVING COUNT(*) > 1`,
          jobId,
        ).length;
        expectedTotal += check.expected;
        present += check.present;
        corrupt += check.corrupt.length;
        lost += check.missing.length;
        duplicates += twice + check.unexpected.length;
        log(`round ${round + 1}: job ${final}, ${check.present}/${check.expected} frames, ${check.corrupt.length} corrupt, ${check.missing.length} missing, staging left ${check.stagingLeftovers}`);
      }
    } finally {
      db.close();
    }
    const byKind = new Map<string, number[]>();
    for (const r of recoveries) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r.seconds]);
    const byKindFromFault = new Map<string, number[]>();
    for (const r of recoveries) byKindFromFault.set(r.kind, [...(byKindFromFault.get(r.kind) ?? []), r.fromFaultSeconds]);
    log(MEASURED_HOW);
    for (const [k, v] of byKind) {
      const ff = byKindFromFault.get(k) ?? [];
      log(`recovery ${k}: n=${v.length} p50 ${percentile(v, 50).toFixed(2)}s max ${Math.max(...v).toFixed(2)}s (from fault: p50 ${percentile(ff, 50).toFixed(2)}s max ${Math.max(...ff).toFixed(2)}s)`);
    }
    log(`from fault, all kinds: ${recoverySummary(recoveries.map((r) => r.fromFaultSeconds))}`);
    for (const c of farm.crashes) log(`FAILED: ${c}`);
    for (const e of harnessErrors) log(`FAILED to inject or restore: ${e}`);
    process.stdout.write(
      `faults: ${injected} injected, ${expectedTotal} expected, ${present} present, ${duplicates} duplicates, ${corrupt} corrupt, ${lost} lost, ` +
        `${recoverySummary(recoveries.map((r) => r.seconds))}\n`,
    );
    return lost === 0 && duplicates === 0 && corrupt === 0 && present === expectedTotal && expectedTotal > 0 && farm.crashes.length === 0 && harnessErrors.length === 0 ? 0 : 1;
  } finally {
    await farm?.stopAll();
    await cluster?.stopAll();
    await lan?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    compiled?.remove();
  }
}

/** Moves an agent fault to an agent that is not under a fault already; undefined when every agent is. */
function retarget(f: PlannedFault, busy: ReadonlySet<number>, agents: number): PlannedFault | undefined {
  if (f.kind !== "kill-agent" && f.kind !== "cut-link") return f;
  for (let k = 0; k < agents; k++) {
    const agent = (f.agent + k) % agents;
    if (!busy.has(agent)) return { ...f, agent };
  }
  return undefined;
}

/** Restarts an agent, retrying while the coordinator is still coming back. */
async function restartAgent(farm: SoakFarm, i: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await farm.startAgent(i);
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(2000);
    }
  }
}

function jobState(db: ReturnType<typeof readStore>, jobId: string): string {
  return db.get<{ state: string }>(`SELECT state FROM jobs WHERE id = ?`, jobId)?.state ?? "unknown";
}

async function waitForJob(db: ReturnType<typeof readStore>, jobId: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = jobState(db, jobId);
    if (["done", "failed", "cancelled"].includes(s)) return s;
    if (Date.now() > until) return `${s} (timed out)`;
    await sleep(200);
  }
}

/** Latest time an attempt was created, or 0. */
function lastClaimAt(db: ReturnType<typeof readStore>, jobId: string): number {
  return db.get<{ t: number | null }>(`SELECT MAX(created_at) AS t FROM attempts WHERE job_id = ?`, jobId)?.t ?? 0;
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return false;
}

/** When cond first held (ms since the epoch), or undefined when it did not within timeoutMs. */
async function whenTrue(cond: () => boolean, timeoutMs: number): Promise<number | undefined> {
  return (await until(cond, timeoutMs)) ? Date.now() : undefined;
}

/**
 * The recovery that ended at `doneAt` (undefined: not within the wait) for a fault at t0, counting only the time it
 * was possible; logged. `cutAt`: the watch was cut off there by --max-minutes. Undefined when the watch was already
 * counted (cut off before its fault's own result came).
 */
function recovery(kind: FaultKind, t0: number, doneAt: number | undefined, availability: FarmAvailability, watch: symbol, cutAt?: number, how?: string): Recovery | undefined {
  const label = openWatches.get(watch)?.label;
  if (!openWatches.delete(watch)) return undefined;
  // Not recovered within the wait (or by the bound): counted as the time watched (a lower bound), so that the slowest recoveries stay in the percentiles.
  const end = doneAt ?? cutAt ?? t0 + RECOVERY_WAIT_MS;
  const r = { kind, seconds: availability.possibleMs(t0, end, kind !== "kill-coordinator", kind !== "kill-nats") / 1000, fromFaultSeconds: (end - t0) / 1000 };
  const what = doneAt !== undefined ? "recovered after" : cutAt !== undefined ? "cut off by --max-minutes, counted as at least" : "not recovered within the soak's wait, counted as at least";
  // As the ninth round counted it (a nats-server outage not left out), to compare with its figures.
  const withBus = availability.possibleMs(t0, end, kind !== "kill-coordinator", false) / 1000;
  const ninth = withBus !== r.seconds ? ` (${withBus.toFixed(2)}s counting the nats-server outage)` : "";
  log(`  ${kind}${label ? ` (${label})` : ""}: ${what} ${r.fromFaultSeconds.toFixed(2)}s, ${r.seconds.toFixed(2)}s of it with recovery possible${ninth}${how && doneAt !== undefined ? `: ${how}` : ""}`);
  return r;
}

/**
 * Injects one fault, restores it on the plan's schedule (the agent restarted or
 * the link up after 1-5 s, whatever the farm did meanwhile), and returns the
 * recovery time, watched alongside and counting only the time during which
 * recovery was possible (farm-availability.ts), until:
 * - agent killed / link cut: from the fault until the chunk the agent held is claimed again elsewhere
 *   (no sample when the agent held nothing at that moment);
 * - coordinator, nats-server or a NATS cluster node killed: from the fault until the farm claims work again
 *   (a node comes back on the plan's schedule, its store kept).
 */
async function inject(
  farm: SoakFarm,
  lan: Lan | undefined,
  db: ReturnType<typeof readStore>,
  jobId: string,
  f: PlannedFault,
  cluster: LocalNatsCluster | undefined,
  availability: FarmAvailability,
): Promise<Recovery | undefined> {
  const t0 = Date.now();
  const held = (agentName: string): { chunk_id: string } | undefined =>
    db.get<{ chunk_id: string }>(
      `SELECT a.chunk_id FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE g.name = ? AND a.state = 'running' AND a.job_id = ?`,
      agentName,
      jobId,
    );
  // Attempts of the chunk made after the fault (and by `upTo`, when given): the chunk was claimed again.
  const claimedAgain = (chunkId: string, upTo = Number.MAX_SAFE_INTEGER): boolean =>
    (db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM attempts WHERE chunk_id = ? AND created_at > ? AND created_at <= ?`, chunkId, t0, upTo)?.n ?? 0) > 0;
  const reclaimed = (chunkId: string): boolean => claimedAgain(chunkId) || db.get<{ state: string }>(`SELECT state FROM chunks WHERE id = ?`, chunkId)?.state === "done";
  // Which of the two ended an agent fault's recovery: the per-fault line says so (the summary counts both alike).
  const how = (chunkId: string, doneAt: number | undefined): string | undefined =>
    doneAt === undefined ? undefined : claimedAgain(chunkId, doneAt) ? "claimed again" : "finished by the agent that held it";
  switch (f.kind) {
    case "kill-agent": {
      if (!farm.agentAlive(f.agent)) return undefined;
      const h = held(`agent-${f.agent + 1}`);
      availability.agent(f.agent, false, t0);
      farm.agents[f.agent]?.kill("SIGKILL");
      log(`  SIGKILL agent-${f.agent + 1}${h ? ` (held a chunk: ${heldLabel(f.agent, h.chunk_id, t0)})` : ""}`);
      // The agent comes back on the plan's schedule whatever the farm does meanwhile; recovery is watched alongside.
      const watch = h ? startWatch(f.kind, t0, heldLabel(f.agent, h.chunk_id, t0)) : undefined;
      const rec = h ? whenTrue(() => reclaimed(h.chunk_id), RECOVERY_WAIT_MS) : Promise.resolve(undefined);
      await sleep(Math.max(0, t0 + f.restoreAfterSeconds * 1000 - Date.now()));
      await farm.agents[f.agent]?.exited;
      await restartAgent(farm, f.agent);
      availability.agent(f.agent, true, Date.now());
      const doneAt = await rec;
      return watch && h ? recovery(f.kind, t0, doneAt, availability, watch, undefined, how(h.chunk_id, doneAt)) : undefined;
    }
    case "cut-link": {
      const host = farm.agentHost(f.agent);
      if (!lan || !host) return undefined;
      const h = held(`agent-${f.agent + 1}`);
      availability.agent(f.agent, false, t0);
      await lan.linkDown(host);
      log(`  link down: agent-${f.agent + 1}${h ? ` (held a chunk: ${heldLabel(f.agent, h.chunk_id, t0)})` : ""}`);
      const watch = h ? startWatch(f.kind, t0, heldLabel(f.agent, h.chunk_id, t0)) : undefined;
      const rec = h ? whenTrue(() => reclaimed(h.chunk_id), RECOVERY_WAIT_MS) : Promise.resolve(undefined);
      await sleep(Math.max(0, t0 + f.restoreAfterSeconds * 1000 - Date.now()));
      await lan.linkUp(host);
      const upAt = Date.now();
      availability.agent(f.agent, true, upAt);
      const doneAt = await rec;
      // When it ended after the link came back, how long after: what the agent's own return costs.
      const said = h ? how(h.chunk_id, doneAt) : undefined;
      const afterUp = said && doneAt !== undefined && doneAt >= upAt ? `${said}, ${((doneAt - upAt) / 1000).toFixed(2)}s after its link came back` : said;
      return watch && h ? recovery(f.kind, t0, doneAt, availability, watch, undefined, afterUp) : undefined;
    }
    case "kill-coordinator": {
      availability.coordinator(false, t0);
      const watch = startWatch(f.kind, t0);
      await farm.killCoordinator();
      log(`  SIGKILL coordinator at ${new Date(t0).toISOString().slice(11, 23)}`);
      const spawnAt = Date.now();
      await farm.startCoordinator();
      const listeningAt = Date.now();
      availability.coordinator(true, listeningAt);
      const claimedAt = await whenTrue(() => lastClaimAt(db, jobId) > t0 || !["running", "queued"].includes(jobState(db, jobId)), RECOVERY_WAIT_MS);
      // Read after the claim: the coordinator's log reaches its stderr after "listening" reaches its stdout.
      const steps = Object.entries(farm.coordinatorStartUpMs()).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(2)}`).join(", ");
      log(`  coordinator listening ${((listeningAt - t0) / 1000).toFixed(2)}s after the kill (started ${((spawnAt - t0) / 1000).toFixed(2)}s after it; its start-up, s: ${steps || "not logged"})`);
      if (claimedAt !== undefined) log(`  first claim ${((claimedAt - listeningAt) / 1000).toFixed(2)}s after the coordinator listened`);
      return recovery(f.kind, t0, claimedAt, availability, watch);
    }
    case "kill-nats": {
      const pidFile = join(farm.dataDir, "nats", "nats-server.pid");
      let pid = 0;
      try {
        pid = Number(readFileSync(pidFile, "utf8").trim());
      } catch {
        return undefined;
      }
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        return undefined;
      }
      log(`  SIGKILL nats-server ${pid}`);
      availability.bus(false, t0);
      const watch = startWatch(f.kind, t0);
      // Back when the coordinator says its NATS connection is (it restarts nats-server itself), or at the first claim since.
      const claimed = (): boolean => lastClaimAt(db, jobId) > t0 || !["running", "queued"].includes(jobState(db, jobId));
      const busBack = (): number | undefined => farm.natsBackAfter(t0) ?? (claimed() ? Date.now() : undefined);
      await until(() => busBack() !== undefined, RECOVERY_WAIT_MS);
      availability.bus(true, busBack() ?? Date.now());
      return recovery(f.kind, t0, await whenTrue(claimed, RECOVERY_WAIT_MS), availability, watch);
    }
    case "kill-nats-node": {
      if (!cluster) return undefined;
      const node = f.agent % cluster.nodes.length;
      const pid = cluster.pid(node);
      if (pid === undefined) return undefined;
      await cluster.kill(node);
      log(`  SIGKILL NATS node ${cluster.nodes[node]?.name ?? node} (pid ${pid})`);
      const watch = startWatch(f.kind, t0);
      const rec = whenTrue(() => lastClaimAt(db, jobId) > t0 || !["running", "queued"].includes(jobState(db, jobId)), RECOVERY_WAIT_MS);
      await sleep(Math.max(0, t0 + f.restoreAfterSeconds * 1000 - Date.now()));
      await cluster.start(node);
      log(`  NATS node ${cluster.nodes[node]?.name ?? node} back`);
      return recovery(f.kind, t0, await rec, availability, watch);
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
