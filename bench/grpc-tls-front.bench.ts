/**
 * What the TLS front of the gRPC port (coordinator/grpc/tls-front.ts) costs:
 * the same grpc-js server, the same mutual TLS, once on grpc-js's own listener
 * (the baseline) and once behind the front, measured in the same run.
 *
 *   node --import tsx bench/grpc-tls-front.bench.ts [--mb 256] [--message-bytes 1048576] [--calls 200] [--rounds 3]
 *
 * Two figures: MB/s of one client stream (the sink's shape: large messages to
 * the coordinator) and unary calls/s with a new connection per round (the
 * handshake, which the front does). Rounds alternate the order; best of each.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { listen, stopGrpcServer } from "../coordinator/grpc/grpc-server.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { GRPC_CHANNEL_OPTIONS, GRPC_SERVER_OPTIONS } from "../shared/grpc-options.ts";
import { studioChannelCredentials, studioServerCredentials } from "../shared/tls/grpc-credentials.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../shared/tls/pem-keys.ts";
import { silentLogger } from "../shared/log.ts";
import { MB, intFlag, nowSeconds, parseFlags, round, runBench, withTempDir } from "./bench-cli.ts";

const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  push: { path: "/nightshift.bench.Front/Push", requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  ping: { path: "/nightshift.bench.Front/Ping", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};
type Mode = "grpcJs" | "front";

async function frontBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { mb: { default: "256" }, "message-bytes": { default: "1048576" }, calls: { default: "200" }, rounds: { default: "3" } });
  const totalBytes = intFlag("mb", f.mb, 1, 4096) * MB;
  const messageBytes = intFlag("message-bytes", f["message-bytes"], 1024, 16 * 1024 * 1024);
  const calls = intFlag("calls", f.calls, 1, 10_000);
  const rounds = intFlag("rounds", f.rounds, 1, 9);
  return withTempDir("nightshift-bench-front-", undefined, async (dir) => {
    const ca = await StudioCa.open(join(dir, "ca"));
    const serverCert = await ca.issueServerCertificate();
    const tls = { caPem: ca.certPem, ...serverCert };
    const keys = await generateEcKeyPair();
    const channel = studioChannelCredentials({ caPem: ca.certPem, certPem: await ca.issueAgentCertificate("agt-00000000000000000001", publicKeyToPem(keys.publicKey)), keyPem: privateKeyToPem(keys.privateKey) });
    const servers: Record<Mode, { server: grpc.Server; port: number }> = {} as never;
    for (const mode of ["grpcJs", "front"] as const) {
      const server = new grpc.Server(GRPC_SERVER_OPTIONS);
      server.addService(service, {
        push: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          let n = 0;
          call.on("data", (b: Buffer) => (n += b.length));
          call.on("end", () => cb(null, Buffer.from(String(n))));
        },
        ping: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)),
      });
      const credentials = mode === "grpcJs" ? studioServerCredentials(tls, true) : { tls, requireClientCertificate: true, log: silentLogger(), clock: Date.now };
      servers[mode] = { server, port: await listen(server, "127.0.0.1", 0, credentials) };
    }
    const payload = Buffer.alloc(messageBytes, 7);
    const stream = async (mode: Mode): Promise<number> => {
      const client = new grpc.Client(`127.0.0.1:${servers[mode].port}`, channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options });
      try {
        const start = nowSeconds();
        await new Promise<void>((resolve, reject) => {
          const call = client.makeClientStreamRequest("/nightshift.bench.Front/Push", identity, identity, (err) => (err ? reject(err) : resolve()));
          let sent = 0;
          const pump = (): void => {
            while (sent < totalBytes) {
              sent += payload.length;
              if (!call.write(payload)) return void call.once("drain", pump);
            }
            call.end();
          };
          pump();
        });
        return totalBytes / MB / (nowSeconds() - start);
      } finally {
        client.close();
      }
    };
    const connectAndCall = async (mode: Mode): Promise<number> => {
      const start = nowSeconds();
      for (let i = 0; i < calls; i++) {
        // A new channel each call: TLS handshake, HTTP/2 setup, one unary call.
        const client = new grpc.Client(`127.0.0.1:${servers[mode].port}`, channel.credentials, { ...channel.options, "grpc.use_local_subchannel_pool": 1 });
        await new Promise<void>((resolve, reject) => client.makeUnaryRequest("/nightshift.bench.Front/Ping", identity, identity, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
        client.close();
      }
      return calls / (nowSeconds() - start);
    };
    const mbps: Record<Mode, number[]> = { grpcJs: [], front: [] };
    const cps: Record<Mode, number[]> = { grpcJs: [], front: [] };
    for (let r = 0; r < rounds; r++) {
      const order: Mode[] = r % 2 === 0 ? ["grpcJs", "front"] : ["front", "grpcJs"];
      for (const m of order) mbps[m].push(await stream(m));
      for (const m of order) cps[m].push(await connectAndCall(m));
    }
    for (const s of Object.values(servers)) await stopGrpcServer(s.server, 0);
    const best = (xs: number[]) => Math.max(...xs);
    return {
      benchmark: "grpc-tls-front",
      streamMB: totalBytes / MB,
      messageBytes,
      grpcJsMBps: round(best(mbps.grpcJs), 1),
      frontMBps: round(best(mbps.front), 1),
      ratio: round(best(mbps.front) / best(mbps.grpcJs), 3),
      grpcJsConnectionsPerSecond: round(best(cps.grpcJs), 1),
      frontConnectionsPerSecond: round(best(cps.front), 1),
      connectionRatio: round(best(cps.front) / best(cps.grpcJs), 3),
      runs: { mbps, connectionsPerSecond: cps },
      definitions: {
        grpcJsMBps: "one client stream of --mb MB in --message-bytes messages over mutual TLS to grpc-js's own listener (bindAsync, ServerCredentials.createSsl); from call start to the server's reply",
        frontMBps: "the same to the same kind of server behind coordinator/grpc/tls-front.ts (own TLS, Server#createConnectionInjector)",
        connectionsPerSecond: "--calls times: a new channel (TLS handshake + HTTP/2 setup) and one empty unary call",
      },
      aggregation: `best of ${rounds} rounds for each figure; rounds alternate which side runs first`,
    };
  });
}

runBench(() => frontBench(process.argv.slice(2)));
