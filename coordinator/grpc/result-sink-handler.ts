import type { ServerReadableStream, sendUnaryData } from "@grpc/grpc-js";
import type { ResultSinkServer, UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { ENERGY_SOURCES, type ChunkAccounting, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import type { Logger } from "../../shared/log.ts";
import type { ResultSink, UploadSession } from "../sink/result-sink.ts";
import { toServiceError } from "./grpc-errors.ts";
import { messagesOf } from "./client-stream-messages.ts";

function toAccounting(a: NonNullable<Extract<UploadMessage["body"], { $case: "accounting" }>>["value"]): ChunkAccounting {
  const source = a.energySource as EnergySource;
  if (!ENERGY_SOURCES.includes(source)) throw new UploadRefusedError(`unknown energy source '${a.energySource}'`, "bad-accounting");
  return {
    wallSeconds: a.wallSeconds,
    busySeconds: a.busySeconds,
    energyJoules: a.energyJoules,
    energySource: source,
    idleEnergyJoules: a.idleEnergyJoules,
    peakMemoryBytes: a.peakMemoryBytes,
    memoryKind: a.memoryKind === "vram" ? "vram" : "ram",
    meanWatts: a.meanWatts,
    samples: a.samples,
  };
}

/**
 * gRPC edge of the sink. Reads the client stream message by message with
 * `for await`, so a slow disk pauses the HTTP/2 stream (flow control) instead
 * of buffering frames in memory. Protocol: header, frames..., accounting, end.
 */
/** Called after an upload was refused, with the refusal reason (e.g. "disk-full"). */
export type RefusalHook = (header: { jobId: string; attemptId: string }, reason: string) => void;

export function resultSinkHandler(sink: ResultSink, log: Logger, onRefused?: RefusalHook): ResultSinkServer {
  return {
    upload(call: ServerReadableStream<UploadMessage, UploadResult>, callback: sendUnaryData<UploadResult>): void {
      let session: UploadSession | undefined;
      const run = async (): Promise<UploadResult> => {
        let accounting: ChunkAccounting | undefined;
        for await (const msg of messagesOf<UploadMessage>(call)) {
          const body = msg.body;
          if (!body) throw new UploadRefusedError("empty upload message", "bad-message");
          if (body.$case === "header") {
            if (session) throw new UploadRefusedError("second header in one upload", "bad-message");
            session = await sink.begin(body.value);
          } else if (!session) {
            throw new UploadRefusedError("upload must start with a header", "bad-message");
          } else if (body.$case === "frame") {
            if (accounting) throw new UploadRefusedError("frame after accounting", "bad-message");
            await session.addFrame(body.value);
          } else {
            accounting = toAccounting(body.value);
          }
        }
        if (!session) throw new UploadRefusedError("upload without header", "bad-message");
        if (!accounting) throw new UploadRefusedError("upload ended without accounting (truncated stream)", "truncated");
        const written = await session.commit(accounting);
        return { committed: true, framesWritten: written, message: "" };
      };
      run()
        .then((res) => callback(null, res))
        .catch(async (err: unknown) => {
          await session?.abort().catch(() => undefined);
          const h = session?.header;
          log.warn({ err: err instanceof Error ? err.message : err, attemptId: h?.attemptId, chunkId: h?.chunkId, agentId: h?.agentId }, "upload refused");
          if (h && err instanceof UploadRefusedError) onRefused?.(h, err.reason);
          callback(toServiceError(err));
        });
    },
  };
}
