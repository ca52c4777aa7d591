/**
 * The sink's gRPC handlers over a sink that takes every frame and commits at
 * once (no files, no SQLite), behind the real TLS front and peer guard for
 * one enrolled bench agent: what the benches that price the upload
 * transport alone serve (bench/sink-call-vs-stream.bench.ts,
 * bench/upload-stream-open.bench.ts).
 */
import { Server } from "@grpc/grpc-js";
import { listen } from "../coordinator/grpc/grpc-server.ts";
import { resultSinkHandler } from "../coordinator/grpc/result-sink-handler.ts";
import type { ResultSink, UploadHeader } from "../coordinator/sink/result-sink.ts";
import { peerGuard } from "../coordinator/trust/peer-guard.ts";
import type { ResultSinkServer } from "../proto/gen/nightshift/v1/sink.ts";
import { GRPC_SERVER_OPTIONS } from "../shared/grpc-options.ts";
import { silentLogger } from "../shared/log.ts";
import { UPLOAD_SERVICE } from "../shared/upload-codec.ts";
import { enrolledBenchAgent } from "./enrolled-bench-agent.ts";

export function nullSink(): ResultSink {
  const session = (header: UploadHeader) => ({ header, addFrame: async () => undefined, commit: async () => 1, abort: async () => undefined });
  return { begin: async (h: UploadHeader) => session(h) } as unknown as ResultSink;
}

/** What the agent's side (a child process) needs to reach the server. */
export interface NullSinkClientConfig { port: number; caPem: string; certPem: string; keyPem: string }

/** The null sink's handlers (through `wrap`, if given) on 127.0.0.1:0 behind the TLS front and the peer guard. */
export async function startNullSinkServer(dir: string, wrap: (h: ResultSinkServer) => ResultSinkServer = (h) => h) {
  const { ca, tls, certPem, keyPem, store, enrollments } = await enrolledBenchAgent(dir);
  const log = silentLogger();
  const guard = peerGuard({ caPem: ca.certPem, store, enrollments, adminFingerprint: () => undefined, log, rules: { "nightshift.v1.ResultSink": "agent" } });
  const server = new Server({ ...GRPC_SERVER_OPTIONS, interceptors: [guard] });
  server.addService(UPLOAD_SERVICE, wrap(resultSinkHandler(nullSink(), log)));
  const port = await listen(server, "127.0.0.1", 0, { tls, requireClientCertificate: true, log, clock: Date.now });
  const config: NullSinkClientConfig = { port, caPem: ca.certPem, certPem, keyPem };
  return { server, store, config };
}
