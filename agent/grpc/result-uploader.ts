import { createHash } from "node:crypto";
import { once } from "node:events";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { EncodedFrame } from "../executors/executor.ts";
import type { CoordinatorClient } from "./gateway-client.ts";

export interface UploadTarget {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
  frameCount: number;
}

/**
 * Streams one attempt's frames to the ResultSink as they are produced.
 * Backpressure: when write() returns false the uploader waits for 'drain', so
 * the executor is paused by a slow sink rather than filling memory. The
 * accounting is asked for only after the last frame, so it covers the whole run.
 */
export async function uploadAttempt(
  client: CoordinatorClient,
  target: UploadTarget,
  frames: AsyncIterable<EncodedFrame>,
  finish: () => Promise<ChunkAccounting>,
  signal: AbortSignal,
): Promise<UploadResult> {
  let settle!: { resolve: (r: UploadResult) => void; reject: (e: ServiceError) => void };
  const result = new Promise<UploadResult>((resolve, reject) => (settle = { resolve, reject }));
  const call = client.sink.upload((err, res) => (err ? settle.reject(err) : settle.resolve(res)));
  const onAbort = (): void => call.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  // If the sink refuses mid-stream, stop producing frames at once.
  const failed = result.then(
    () => undefined,
    (err: unknown) => err,
  );
  let refused: unknown;
  void failed.then((e) => (refused = e));

  const write = async (msg: UploadMessage): Promise<void> => {
    if (refused) throw refused;
    if (!call.write(msg)) await Promise.race([once(call, "drain"), failed.then((e) => Promise.reject(e ?? new Error("upload closed")))]);
  };
  try {
    await write({ body: { $case: "header", value: target } });
    for await (const f of frames) {
      const sha256 = createHash("sha256").update(f.data).digest("hex");
      await write({ body: { $case: "frame", value: { index: f.index, data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), sha256, format: f.format, size: f.data.length, pixelsSha256: f.pixelsSha256 ?? "" } } });
    }
    const acc = await finish();
    await write({ body: { $case: "accounting", value: acc } });
    call.end();
    return await result;
  } catch (err) {
    // A refusal from the sink explains the failure better than the local write error it caused; but when the
    // failure is ours (the executor threw), the sink has nothing to say and our own error is the one to report.
    const sinkAnswer = refused ?? (await Promise.race([failed, new Promise((r) => setTimeout(r, 200, undefined))]));
    call.cancel();
    const fromSink = sinkAnswer && (sinkAnswer as { code?: number }).code !== grpcStatus.CANCELLED ? sinkAnswer : undefined;
    throw fromSink ?? err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
