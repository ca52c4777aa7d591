// The coordinator's gRPC port widens grpc-js's HTTP/2 receive window
// (coordinator/grpc/http2-receive-window.ts): a real grpc-js server, behind the
// TLS front and on grpc-js's own listener, and a real HTTP/2 client that reads
// what the server told it (SETTINGS_INITIAL_WINDOW_SIZE for each stream, and
// the connection window after the server's WINDOW_UPDATE). Without the change
// both stay at 65,535 bytes.
import assert from "node:assert/strict";
import { connect, type ClientHttp2Session } from "node:http2";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { listen, stopGrpcServer } from "../../coordinator/grpc/grpc-server.ts";
import { DEFAULT_RECEIVE_WINDOW } from "../../coordinator/grpc/http2-receive-window.ts";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { COORDINATOR_TLS_NAME } from "../../shared/tls/identity-names.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../../shared/tls/pem-keys.ts";
import { defer } from "../helpers/defer.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";

async function windowsSeen(t: TestContext, session: ClientHttp2Session): Promise<{ stream: number | undefined; connection: number }> {
  defer(t, () => session.destroy());
  session.on("error", () => undefined);
  // The server's first SETTINGS carry Node's defaults; its second SETTINGS and the WINDOW_UPDATE on stream 0 follow.
  await eventually(
    () => session.remoteSettings.initialWindowSize !== 65_535 && (session.state.remoteWindowSize ?? 0) > 65_535,
    "the server's wider windows",
  ).catch(() => undefined); // the assertions below say which one is missing
  return { stream: session.remoteSettings.initialWindowSize, connection: session.state.remoteWindowSize ?? 0 };
}

test("behind the TLS front, every accepted session gets the wider stream and connection windows", async (t) => {
  const dir = tempDir(t, "ns-h2-window-");
  const ca = await StudioCa.open(join(dir, "ca"));
  const server = new grpc.Server();
  defer(t, () => stopGrpcServer(server, 500));
  const port = await listen(server, "127.0.0.1", 0, {
    tls: { caPem: ca.certPem, ...(await ca.issueServerCertificate()) },
    requireClientCertificate: true,
    log: pino({ level: "silent" }),
    clock: () => Date.now(),
  });
  const keys = await generateEcKeyPair();
  const certPem = await ca.issueAgentCertificate("agt-00000000000000000001", publicKeyToPem(keys.publicKey));
  const session = connect(`https://127.0.0.1:${port}`, { ca: ca.certPem, cert: certPem, key: privateKeyToPem(keys.privateKey), servername: COORDINATOR_TLS_NAME });
  const seen = await windowsSeen(t, session);
  assert.equal(seen.stream, DEFAULT_RECEIVE_WINDOW.streamBytes);
  assert.equal(seen.connection, DEFAULT_RECEIVE_WINDOW.connectionBytes);
});

test("on grpc-js's own listener too (insecure, as tests bind it)", async (t) => {
  const server = new grpc.Server();
  defer(t, () => stopGrpcServer(server, 500));
  const port = await listen(server, "127.0.0.1", 0, grpc.ServerCredentials.createInsecure());
  const seen = await windowsSeen(t, connect(`http://127.0.0.1:${port}`));
  assert.equal(seen.stream, DEFAULT_RECEIVE_WINDOW.streamBytes);
  assert.equal(seen.connection, DEFAULT_RECEIVE_WINDOW.connectionBytes);
});
