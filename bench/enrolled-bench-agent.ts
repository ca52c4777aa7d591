/**
 * One enrolled agent and the studio CA behind a bench's real TLS front and
 * peer guard (bench/grpc-call-cost.bench.ts, bench/sink-call-vs-stream.bench.ts):
 * the CA, the server's TLS material, the agent's key and certificate, and a
 * store in which the agent is approved and its certificate recorded, as
 * enrollment leaves them.
 */
import { createHash, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { EnrollmentsTable } from "../coordinator/store/enrollments-table.ts";
import { Store } from "../coordinator/store/store.ts";
import { StudioCa } from "../coordinator/trust/studio-ca.ts";
import { generateEcKeyPair, privateKeyToPem, publicKeyToPem } from "../shared/tls/pem-keys.ts";

export const BENCH_AGENT_ID = "agt-00000000000000000001";

export async function enrolledBenchAgent(dir: string) {
  const ca = await StudioCa.open(join(dir, "ca"));
  const tls = { caPem: ca.certPem, ...(await ca.issueServerCertificate()) };
  const keys = await generateEcKeyPair();
  const certPem = await ca.issueAgentCertificate(BENCH_AGENT_ID, publicKeyToPem(keys.publicKey));
  const store = Store.open(join(dir, "store.sqlite"));
  const enrollments = new EnrollmentsTable(store.db);
  store.agents.upsert({ id: BENCH_AGENT_ID, name: "bench", state: "online", version: "1", gpus: [], ramBytes: 1, cpuCount: 1, tags: [], kinds: [], address: "", now: 1_000 });
  enrollments.approve(BENCH_AGENT_ID, "token", 1_000);
  enrollments.recordCertificate(BENCH_AGENT_ID, { certPem, certFingerprint: createHash("sha256").update(new X509Certificate(certPem).raw).digest("hex"), natsNkey: "U", at: 1_000 });
  return { ca, tls, certPem, keyPem: privateKeyToPem(keys.privateKey), store, enrollments };
}
