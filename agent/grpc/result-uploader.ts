import { createHash } from "node:crypto";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { ResultSinkClient, UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { ChunkAccounting } from "../../shared/accounting/chunk-accounting.ts";
import type { EncodedFrame } from "../executors/executor.ts";
import type { CoordinatorClient } from "./gateway-client.ts";
import { writerUntil, type StreamUpload } from "./upload-stream.ts";

export interface UploadTarget {
  jobId: string;
  chunkId: string;
  attemptId: string;
  agentId: string;
  frameCount: number;
}

/** How an upload travels: on the agent's one upload stream (falling back to Upload where the coordinator has none), or as its own Upload call. */
export type UploadVia = "stream" | "unary";

/** One Upload call, with the same face as an upload on the stream. */
function unaryUpload(sink: ResultSinkClient): StreamUpload {
  let settle!: { resolve: (r: UploadResult) => void; reject: (e: ServiceError) => void };
  const result = new Promise<UploadResult>((resolve, reject) => (settle = { resolve, reject }));
  const call = sink.upload((err, res) => (err ? settle.reject(err) : settle.resolve(res)));
  return {
    result,
    write: writerUntil(result, "upload closed", (msg) => call.write(msg), call),
    end: () => call.end(),
    cancel: () => call.cancel(),
  };
}

/**
 * Streams one attempt's frames to the ResultSink as they are produced, on the
 * agent's upload stream (upload-stream.ts) or as one Upload call.
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
  via: UploadVia = "stream",
): Promise<UploadResult> {
  const up = (via === "stream" ? await client.uploads.begin() : null) ?? unaryUpload(client.sink);
  // Our own messages carry no id; the stream's upload puts its own on.
  const message = (body: UploadMessage["body"]): UploadMessage => ({ body, uploadId: 0 });
  const onAbort = (): void => up.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  // If the sink refuses mid-stream, stop producing frames at once.
  const failed = up.result.then(
    () => undefined,
    (err: unknown) => err,
  );
  let refused: unknown;
  void failed.then((e) => (refused = e));
  try {
    await up.write(message({ $case: "header", value: target }));
    for await (const f of frames) {
      const sha256 = createHash("sha256").update(f.data).digest("hex");
      await up.write(message({ $case: "frame", value: { index: f.index, data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), sha256, format: f.format, size: f.data.length, pixelsSha256: f.pixelsSha256 ?? "" } }));
    }
    const acc = await finish();
    await up.write(message({ $case: "accounting", value: acc }));
    up.end();
    return await up.result;
  } catch (err) {
    // A refusal from the sink explains the failure better than the local write error it caused; but when the
    // failure is ours (the executor threw), the sink has nothing to say and our own error is the one to report.
    const sinkAnswer = refused ?? (await Promise.race([failed, new Promise((r) => setTimeout(r, 200, undefined))]));
    up.cancel();
    const fromSink = sinkAnswer && (sinkAnswer as { code?: number }).code !== grpcStatus.CANCELLED ? sinkAnswer : undefined;
    throw fromSink ?? err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
