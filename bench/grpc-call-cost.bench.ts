/**
 * The coordinator's CPU per gRPC call on the agents' two per-chunk calls, in
 * process: a claim-shaped unary call and an upload-shaped client stream
 * (header, one frame, accounting), through the real TLS front and the real
 * peer guard (coordinator/trust/peer-guard.ts) against a real store. The
 * client runs in a child process, so the process CPU measured here is the
 * server side only.
 *
 *   node --import tsx bench/grpc-call-cost.bench.ts [--calls 400] [--rounds 3] [--gap-ms 4] [--before-guard FILE]
 *
 * Two servers in the same run: "before" is this round's starting point
 * (channelz on, grpc-js's default; the upload read with `for await`), "after"
 * is what the coordinator does now (GRPC_SERVER_OPTIONS, channelz off; the
 * upload read with messagesOf, coordinator/grpc/client-stream-messages.ts).
 * Both use this tree's peer guard unless --before-guard names another
 * peer-guard.ts for "before" (an older checkout's, to include the guard's
 * own changes in the comparison). A third way runs on the "after" server
 * only: claim-shaped messages on one open bidirectional stream (each message
 * checked by the peer guard as a call is; coordinator/grpc/claim-stream-handler.ts),
 * one answer awaited before the next request, as a unary call is; its ratio
 * is to the unary claim on the same server.
 * Each round runs both, alternating which goes first; calls are back to back
 * ("warm") and then one every --gap-ms ("paced", the farm's shape: other work
 * between two calls, so the code is colder). Figures are the median of the
 * rounds, in microseconds of process CPU (user + system) per call.
 */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { messagesOf } from "../coordinator/grpc/client-stream-messages.ts";
import { listen, stopGrpcServer } from "../coordinator/grpc/grpc-server.ts";
import { peerGuard } from "../coordinator/trust/peer-guard.ts";
import { GRPC_CHANNEL_OPTIONS, GRPC_SERVER_OPTIONS } from "../shared/grpc-options.ts";
import { silentLogger } from "../shared/log.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { intFlag, median, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { forkCallClient, serveCallBatches, type CallClientProcess } from "./call-client-process.ts";
import { BENCH_AGENT_ID, enrolledBenchAgent } from "./enrolled-bench-agent.ts";

const SERVICE = "nightshift.bench.Calls";
const CLAIM = `/${SERVICE}/Claim`;
const UPLOAD = `/${SERVICE}/Upload`;
const CLAIM_STREAM = `/${SERVICE}/ClaimStream`;
const AGENT_ID = BENCH_AGENT_ID;
const identity = (b: Buffer) => b;
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const service: grpc.ServiceDefinition = {
  claim: { path: CLAIM, requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: identity, responseDeserialize: identity },
  upload: { path: UPLOAD, requestStream: true, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: identity, responseDeserialize: identity },
  claimStream: { path: CLAIM_STREAM, requestStream: true, responseStream: true, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: identity, responseDeserialize: identity },
};
type Variant = "before" | "after";
type Kind = "claim" | "upload" | "claimStream";
type ToChild = { variant: Variant; kind: Kind; calls: number; gapMs: number };
interface ClientConfig { ports: Record<Variant, number>; caPem: string; certPem: string; keyPem: string }

/** The child: makes the calls it is asked for, one at a time, and says when they are done. */
async function child(config: ClientConfig): Promise<void> {
  const channel = studioChannelCredentials({ caPem: config.caPem, certPem: config.certPem, keyPem: config.keyPem });
  const clients = {
    before: new grpc.Client(`127.0.0.1:${config.ports.before}`, channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options }),
    after: new grpc.Client(`127.0.0.1:${config.ports.after}`, channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options }),
  };
  const frame = { frame: { index: 1, data: "x".repeat(1024) } };
  // One bidi stream per server, opened at the first claim on it and kept; answers come in order.
  const streams = new Map<grpc.Client, { call: grpc.ClientDuplexStream<unknown, Buffer>; waiting: Array<(err?: Error) => void> }>();
  const streamOf = (client: grpc.Client) => {
    let s = streams.get(client);
    if (s) return s;
    const call = client.makeBidiStreamRequest(CLAIM_STREAM, json.serialize, identity);
    const opened = { call, waiting: [] as Array<(err?: Error) => void> };
    call.on("data", () => opened.waiting.shift()?.());
    call.on("error", (err: Error) => opened.waiting.splice(0).forEach((w) => w(err)));
    streams.set(client, (s = opened));
    return s;
  };
  const one = (client: grpc.Client, kind: Kind) =>
    new Promise<void>((resolve, reject) => {
      const done = (err: grpc.ServiceError | null) => (err ? reject(err) : resolve());
      if (kind === "claimStream") {
        const s = streamOf(client);
        s.waiting.push((err) => (err ? reject(err) : resolve()));
        return void s.call.write({ agentId: AGENT_ID, chunkId: "chk-1", dispatchId: "d-1" });
      }
      if (kind === "claim") return void client.makeUnaryRequest(CLAIM, json.serialize, identity, { agentId: AGENT_ID, chunkId: "chk-1", dispatchId: "d-1" }, { deadline: Date.now() + 30_000 }, done);
      const call = client.makeClientStreamRequest(UPLOAD, json.serialize, identity, { deadline: Date.now() + 30_000 }, done);
      call.write({ header: { agentId: AGENT_ID, attemptId: "att-1" } });
      call.write(frame);
      call.write({ accounting: { wallSeconds: 1 } });
      call.end();
    });
  serveCallBatches<ToChild>((m) => one(clients[m.variant], m.kind));
}

async function parent(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { calls: { default: "400" }, rounds: { default: "3" }, "gap-ms": { default: "4" }, "before-guard": { default: "" } });
  const calls = intFlag("calls", f.calls, 10, 100_000);
  const rounds = intFlag("rounds", f.rounds, 1, 9);
  const gapMs = intFlag("gap-ms", f["gap-ms"], 1, 1000);
  const guards: Record<Variant, typeof peerGuard> = {
    before: f["before-guard"] === "" ? peerGuard : ((await import(pathToFileURL(resolve(f["before-guard"])).href)) as { peerGuard: typeof peerGuard }).peerGuard,
    after: peerGuard,
  };
  return withTempDir("nightshift-bench-calls-", undefined, async (dir) => {
    const { ca, tls, certPem, keyPem, store, enrollments } = await enrolledBenchAgent(dir);
    const log = silentLogger();
    const servers: grpc.Server[] = [];
    const ports = {} as Record<Variant, number>;
    for (const variant of ["before", "after"] as const) {
      const guard = guards[variant]({ caPem: ca.certPem, store, enrollments, adminFingerprint: () => undefined, log, rules: { [SERVICE]: "agent" } });
      const options = variant === "after" ? GRPC_SERVER_OPTIONS : { ...GRPC_SERVER_OPTIONS, "grpc.enable_channelz": 1 };
      const server = new grpc.Server({ ...options, interceptors: [guard] });
      server.addService(service, {
        claim: (_call: grpc.ServerUnaryCall<unknown, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(300, 7)),
        claimStream: (call: grpc.ServerDuplexStream<unknown, Buffer>) => {
          call.on("data", () => call.write(Buffer.alloc(300, 7)));
          call.on("end", () => call.end());
        },
        upload: (call: grpc.ServerReadableStream<unknown, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          void (async () => {
            let n = 0;
            for await (const _m of variant === "after" ? messagesOf<unknown>(call) : (call as AsyncIterable<unknown>)) n++;
            return n;
          })().then((n) => cb(null, Buffer.from(String(n))), (err: Error) => cb(err));
        },
      });
      servers.push(server);
      ports[variant] = await listen(server, "127.0.0.1", 0, { tls, requireClientCertificate: true, log, clock: Date.now });
    }
    const config: ClientConfig = { ports, caPem: ca.certPem, certPem, keyPem };
    let client: CallClientProcess<ToChild> | undefined;
    try {
      client = await forkCallClient<ToChild>(fileURLToPath(import.meta.url), config);
      const run = client.run;
      // Warm-up: connections made, code compiled, on both servers.
      for (const variant of ["before", "after"] as const) for (const kind of ["claim", "upload"] as const) await run({ variant, kind, calls: 50, gapMs: 0 });
      await run({ variant: "after", kind: "claimStream", calls: 50, gapMs: 0 });
      const results: Record<string, number[]> = {};
      for (let r = 0; r < rounds; r++) {
        const order: Variant[] = r % 2 === 0 ? ["before", "after"] : ["after", "before"];
        for (const mode of ["warm", "paced"] as const) {
          for (const kind of ["claim", "upload"] as const) {
            for (const variant of order) {
              const key = `${kind}.${mode}.${variant}`;
              (results[key] ??= []).push(await run({ variant, kind, calls: mode === "warm" ? calls : Math.ceil(calls / 4), gapMs: mode === "warm" ? 0 : gapMs }));
              // The stream right beside the unary claim on the same server.
              if (kind === "claim" && variant === "after") {
                (results[`claimStream.${mode}.after`] ??= []).push(await run({ variant, kind: "claimStream", calls: mode === "warm" ? calls : Math.ceil(calls / 4), gapMs: mode === "warm" ? 0 : gapMs }));
              }
            }
          }
        }
      }
      const figures: Record<string, unknown> = {};
      for (const kind of ["claim", "upload"] as const) {
        for (const mode of ["warm", "paced"] as const) {
          const b = median(results[`${kind}.${mode}.before`] ?? []);
          const a = median(results[`${kind}.${mode}.after`] ?? []);
          figures[`${kind}${mode === "warm" ? "Warm" : "Paced"}`] = { beforeUsPerCall: round(b, 1), afterUsPerCall: round(a, 1), ratio: round(a / b, 3) };
        }
      }
      for (const mode of ["warm", "paced"] as const) {
        const unary = median(results[`claim.${mode}.after`] ?? []);
        const stream = median(results[`claimStream.${mode}.after`] ?? []);
        figures[`claimStream${mode === "warm" ? "Warm" : "Paced"}`] = { unaryUsPerClaim: round(unary, 1), streamUsPerClaim: round(stream, 1), ratioToUnary: round(stream / unary, 3) };
      }
      return {
        benchmark: "grpc-call-cost",
        calls,
        rounds,
        gapMs,
        beforeGuard: f["before-guard"] === "" ? "this tree's" : f["before-guard"],
        ...figures,
        runs: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
        definitions: {
          usPerCall: "the server process's CPU (user + system) over a batch of calls, divided by the calls; the client is another process",
          before: "grpc-js defaults (channelz on) and the upload read with for await over the call",
          after: "GRPC_SERVER_OPTIONS (channelz off) and the upload read with messagesOf",
          claim: "a unary call, ~60-byte request, 300-byte reply",
          upload: "a client stream of 3 messages (header with agentId, a 1 KiB frame, accounting), then a short reply",
          claimStream: "the claim's request and reply as messages on one bidirectional stream kept open (after server, each message through the peer guard's full check); ratioToUnary: to the unary claim on the same server, same round",
          warm: "calls back to back; paced: one every --gap-ms, a quarter as many",
        },
        aggregation: `median of ${rounds} rounds; rounds alternate which server goes first`,
      };
    } finally {
      client?.close();
      for (const s of servers) await stopGrpcServer(s, 0);
      store.close();
    }
  });
}

if (process.argv[2] === "--child") void child(JSON.parse(process.argv[3] ?? "{}") as ClientConfig);
else runBench(() => parent(process.argv.slice(2)));
