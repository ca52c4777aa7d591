import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makeGenericClientConstructor, status, type ServiceError } from "@grpc/grpc-js";
import { enrollLocalAgent } from "../../agent/connect/enroll-local-agent.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { ResultSinkClient, UploadMessage } from "../../proto/gen/nightshift/v1/sink.ts";
import { silentLogger } from "../../shared/log.ts";
import { GRPC_CHANNEL_OPTIONS, MAX_GRPC_MESSAGE_BYTES } from "../../shared/grpc-options.ts";
import { startTestCoordinator, tempDir } from "../support/farm.ts";

/** An enrolled agent's mutual-TLS channel to a real coordinator, so the messages reach the sink's edge. */
async function enrolledChannel(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, "ns-hostile-");
  const c = await startTestCoordinator(t, dir);
  const { token } = c.trust.tokens.create({ ttlMs: 60_000, multiUse: false, label: "hostile" });
  const conn = await enrollLocalAgent({ coordinator: c.joinPoint, joinToken: token, dataDir: join(dir, "agent"), name: "hostile", log: silentLogger() });
  const channel = studioChannelCredentials(conn.credentials);
  return { c, dir, channel };
}

function upload(client: { upload: ResultSinkClient["upload"] }, messages: UploadMessage[]): Promise<ServiceError | undefined> {
  return new Promise((resolve) => {
    const call = client.upload((err) => resolve(err ?? undefined));
    call.on("error", () => undefined);
    for (const m of messages) call.write(m);
    call.end();
  });
}

test("an oversized upload message is refused by gRPC (RESOURCE_EXHAUSTED) and nothing is written", async (t) => {
  const { c, dir, channel } = await enrolledChannel(t);
  // The client may send more than the server accepts; the server's limit is what is tested.
  const client = new ResultSinkClient(c.address, channel.credentials, { ...channel.options, ...GRPC_CHANNEL_OPTIONS, "grpc.max_send_message_length": -1 });
  t.after(() => client.close());
  const big = Buffer.alloc(MAX_GRPC_MESSAGE_BYTES + 1024, 7);
  // Sent first, so it is the size limit that answers (a header would be refused earlier, for an unknown attempt).
  const err = await upload(client, [{ body: { $case: "frame", value: { index: 0, data: big, sha256: "0".repeat(64), format: "png", size: big.length, pixelsSha256: "" } }, uploadId: 0 }]);
  assert.ok(err, "the upload must fail");
  assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.message);
  assert.deepEqual(readdirSync(join(dir, "output")), [], "nothing under the output root");
  assert.equal(c.store.frames.countByJob("job_x"), 0);
});

test("a malformed upload message (bytes that are not protobuf) is refused before any handler and nothing is written", async (t) => {
  const { c, dir, channel } = await enrolledChannel(t);
  const Raw = makeGenericClientConstructor(
    {
      upload: {
        path: "/nightshift.v1.ResultSink/Upload",
        requestStream: true,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    "RawResultSink",
  );
  const client = new Raw(c.address, channel.credentials, channel.options) as unknown as { upload: ResultSinkClient["upload"]; close(): void };
  t.after(() => client.close());
  // 0xff... is an invalid protobuf tag/wire type sequence.
  const err = await upload(client, [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]) as unknown as UploadMessage]);
  assert.ok(err, "the upload must fail");
  assert.notEqual(err.code, status.OK);
  assert.ok([status.INTERNAL, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION].includes(err.code), `code ${err.code}: ${err.message}`);
  const staging = join(dir, "output", ".nightshift-staging");
  assert.ok(!existsSync(staging) || readdirSync(staging).length === 0, "no staged frames");
  assert.deepEqual(readdirSync(join(dir, "output")).filter((f) => f !== ".nightshift-staging"), []);
});
