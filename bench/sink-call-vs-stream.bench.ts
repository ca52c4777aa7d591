/**
 * The coordinator's CPU per upload-shaped exchange (header, one 1 KiB frame,
 * accounting, answer) as its own ResultSink.Upload call per chunk against
 * the same exchange as messages on one open ResultSink.UploadStream: the size
 * of the gain of one long-lived upload stream per agent, without the disk;
 * and, on the stream, as three messages (`stream-parts`) against one whole
 * message (`stream`, as the agent sends a small upload since the fourteenth
 * round: agent/grpc/whole-upload.ts).
 * Both go through the real TLS front, the real peer guard (which checks the
 * agent again at every upload's header on the stream) against a real store,
 * the real sink handlers (coordinator/grpc/result-sink-handler.ts,
 * upload-stream-handler.ts) with the upload codec, and the agent's own
 * uploader (agent/grpc/result-uploader.ts) in a child process, so the process
 * CPU measured here is the server side only. The sink behind the handlers
 * takes every frame and commits at once (no files, no SQLite): what is left
 * is what the transport costs per chunk.
 *
 *   node --import tsx bench/sink-call-vs-stream.bench.ts [--calls 400] [--rounds 3] [--gap-ms 4]
 *
 * Each round runs both ways, alternating which goes first; uploads back to
 * back ("warm") and then one every --gap-ms ("paced": other work between two,
 * so the code is colder). Figures are the median of the rounds, in
 * microseconds of process CPU (user + system) per upload.
 */
import { fileURLToPath } from "node:url";
import { CoordinatorClient } from "../agent/grpc/gateway-client.ts";
import { uploadAttempt, type UploadVia } from "../agent/grpc/result-uploader.ts";
import { stopGrpcServer } from "../coordinator/grpc/grpc-server.ts";
import { studioChannelCredentials } from "../shared/tls/grpc-credentials.ts";
import { intFlag, median, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";
import { forkCallClient, serveCallBatches, type CallClientProcess } from "./call-client-process.ts";
import { BENCH_AGENT_ID } from "./enrolled-bench-agent.ts";
import { startNullSinkServer, type NullSinkClientConfig } from "./null-sink.ts";

const AGENT_ID = BENCH_AGENT_ID;
const VIAS = ["unary", "stream-parts", "stream"] as const satisfies readonly UploadVia[];
type ToChild = { via: UploadVia; calls: number; gapMs: number };
type ClientConfig = NullSinkClientConfig;

const ACCOUNTING = { wallSeconds: 1, busySeconds: 1, energyJoules: 1, energySource: "estimate" as const, idleEnergyJoules: 0, peakMemoryBytes: 1, memoryKind: "ram" as const, meanWatts: 1, samples: 1 };

/** The child: the agent's uploader, one upload at a time, as it is asked. */
async function child(config: ClientConfig): Promise<void> {
  const channel = studioChannelCredentials({ caPem: config.caPem, certPem: config.certPem, keyPem: config.keyPem });
  const client = new CoordinatorClient(`127.0.0.1:${config.port}`, channel.credentials, channel.options);
  const data = new Uint8Array(1024).fill(7);
  const target = { jobId: "job-1", chunkId: "chk-1", attemptId: "att-1", agentId: AGENT_ID, frameCount: 1 };
  async function* frames() {
    yield { index: 0, data, format: "png" };
  }
  serveCallBatches<ToChild>((m) => uploadAttempt(client, target, frames(), async () => ACCOUNTING, new AbortController().signal, m.via));
}

async function parent(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { calls: { default: "400" }, rounds: { default: "3" }, "gap-ms": { default: "4" } });
  const calls = intFlag("calls", f.calls, 10, 100_000);
  const rounds = intFlag("rounds", f.rounds, 1, 9);
  const gapMs = intFlag("gap-ms", f["gap-ms"], 1, 1000);
  return withTempDir("nightshift-bench-sink-stream-", undefined, async (dir) => {
    const { server, store, config } = await startNullSinkServer(dir);
    let client: CallClientProcess<ToChild> | undefined;
    try {
      client = await forkCallClient<ToChild>(fileURLToPath(import.meta.url), config);
      const run = client.run;
      for (const via of VIAS) await run({ via, calls: 50, gapMs: 0 }); // warm-up: connection made, code compiled
      const results: Record<string, number[]> = {};
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? VIAS : [...VIAS].reverse();
        for (const mode of ["warm", "paced"] as const) {
          for (const via of order) {
            // Paced: other work between two uploads (the stream stays open; until the tenth round it closed after 2 s idle).
            (results[`${mode}.${via}`] ??= []).push(await run({ via, calls: mode === "warm" ? calls : Math.ceil(calls / 4), gapMs: mode === "warm" ? 0 : gapMs }));
          }
        }
      }
      const figures: Record<string, unknown> = {};
      for (const mode of ["warm", "paced"] as const) {
        const u = median(results[`${mode}.unary`] ?? []);
        const p = median(results[`${mode}.stream-parts`] ?? []);
        const s = median(results[`${mode}.stream`] ?? []);
        figures[mode] = { unaryUsPerUpload: round(u, 1), streamPartsUsPerUpload: round(p, 1), streamUsPerUpload: round(s, 1), ratio: round(s / u, 3), wholeRatio: round(s / p, 3) };
      }
      return {
        benchmark: "sink-call-vs-stream",
        calls,
        rounds,
        gapMs,
        ...figures,
        runs: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
        definitions: {
          usPerUpload: "the server process's CPU (user + system) over a batch of uploads, divided by the uploads; the agent's uploader is another process",
          unary: "each upload its own ResultSink.Upload call (uploadAttempt via 'unary')",
          streamParts: "each upload as header, frame and accounting messages on the agent's one open ResultSink.UploadStream (uploadAttempt via 'stream-parts': as before the fourteenth round, and as an older agent sends)",
          stream: "each upload on the same stream as the agent sends it now (uploadAttempt via 'stream'): one whole message (header, frame, accounting) where the coordinator offers it (agent/grpc/whole-upload.ts)",
          wholeRatio: "stream / streamParts: the gain of one message per small upload",
          upload: "header, one 1 KiB frame, accounting, answer; the sink behind the handler stores nothing",
          warm: "uploads back to back; paced: one every --gap-ms, a quarter as many",
        },
        aggregation: `median of ${rounds} rounds; rounds alternate which way goes first`,
      };
    } finally {
      client?.close();
      await stopGrpcServer(server, 0);
      store.close();
    }
  });
}

if (process.argv[2] === "--child") void child(JSON.parse(process.argv[3] ?? "{}") as ClientConfig);
else runBench(() => parent(process.argv.slice(2)));
