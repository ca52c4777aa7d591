import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { natsClientTls } from "../../shared/tls/nats-tls.ts";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { AgentHost } from "./host-client.ts";
import { wallMs } from "./bench-farm.ts";

const STREAM = "BENCH_RAW";
const SUBJECT = "bench.raw";

/**
 * The baseline for chunk throughput: the same number of messages published
 * to a work-queue stream on the same nats-server (file storage, like the work
 * stream) and consumed by the same number of connections in the agent host,
 * each pulling one message at a time and acking it, like an agent does.
 * Messages per second from the first publish to the last ack.
 */
export async function rawJetStream(o: { natsUrl: string; jwt: string; seed: string; caPem: string; host: AgentHost; consumers: number; count: number }): Promise<number> {
  const nc = await connect({ servers: o.natsUrl, authenticator: jwtAuthenticator(o.jwt, new TextEncoder().encode(o.seed)), tls: natsClientTls(o.caPem) });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
    await jsm.consumers.add(STREAM, { durable_name: "raw", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 30e9, max_ack_pending: 10_000 });
    const consumed = o.host.request(
      { type: "raw-consume", natsUrl: o.natsUrl, jwt: o.jwt, seed: o.seed, caPem: o.caPem, stream: STREAM, consumer: "raw", consumers: o.consumers, count: o.count },
      "raw-consumed",
      120_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // the consumers' first pulls are open
    const js = jetstream(nc);
    const body = new TextEncoder().encode(JSON.stringify({ chunkId: "bench.c00000", jobId: "bench", dispatchId: "dsp_bench_000000000000000000" }));
    const t0 = wallMs();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(256, o.count) }, async () => {
        while (next < o.count) {
          const i = next++;
          await js.publish(SUBJECT, body, { msgID: `raw-${i}` });
        }
      }),
    );
    const r = await consumed;
    await jsm.streams.delete(STREAM).catch(() => undefined);
    return r.count / ((r.lastMs - t0) / 1000);
  } finally {
    await nc.drain().catch(() => undefined);
  }
}
