/**
 * Why this file exists: the rules of one upload (header, frames, accounting,
 * then the commit; or all three in one `whole` message, a small chunk's
 * upload on the stream) as both gRPC edges of the sink apply them: ResultSink.Upload
 * (one call per upload, result-sink-handler.ts) and ResultSink.UploadStream
 * (many uploads on one stream, upload-stream-handler.ts). The same messages
 * are refused the same way on both, and a refused upload's staged frames are
 * dropped the same way.
 */
import type { ServiceError } from "@grpc/grpc-js";
import type { UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import { UploadRefusedError } from "../../shared/errors.ts";
import { ENERGY_SOURCES, type ChunkAccounting, type EnergySource } from "../../shared/accounting/chunk-accounting.ts";
import type { Logger } from "../../shared/log.ts";
import type { ResultSink, UploadSession } from "../sink/result-sink.ts";
import { toServiceError } from "./grpc-errors.ts";

/** Called after an upload was refused, with the refusal reason (e.g. "disk-full"). */
export type RefusalHook = (header: { jobId: string; attemptId: string }, reason: string) => void;

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

/** The refusal of an upload whose messages ended before its accounting: a cut-short call or stream. */
export function truncatedUpload(): UploadRefusedError {
  return new UploadRefusedError("upload ended without accounting (truncated stream)", "truncated");
}

/** One upload in progress at the sink's gRPC edge. */
export class UploadSteps {
  private session: UploadSession | undefined;
  private accounting: ChunkAccounting | undefined;

  constructor(private readonly sink: ResultSink) {}

  /** True once the accounting (an upload's last message) has arrived. */
  get complete(): boolean {
    return this.accounting !== undefined;
  }

  /** Takes the upload's next message; throws UploadRefusedError for one out of place. */
  async take(msg: UploadMessage): Promise<void> {
    const body = msg.body;
    if (!body) throw new UploadRefusedError("empty upload message", "bad-message");
    if (body.$case === "header") {
      if (this.session) throw new UploadRefusedError("second header in one upload", "bad-message");
      this.session = await this.sink.begin(body.value);
    } else if (body.$case === "whole") {
      if (this.session) throw new UploadRefusedError("whole upload after a header", "bad-message");
      const { header, frames, accounting } = body.value;
      if (!header) throw new UploadRefusedError("whole upload without a header", "bad-message");
      if (!accounting) throw truncatedUpload();
      // Checked before anything is staged; taken last, as the accounting message would be.
      const acc = toAccounting(accounting);
      this.session = await this.sink.begin(header);
      for (const f of frames) await this.session.addFrame(f);
      this.accounting = acc;
    } else if (!this.session) {
      throw new UploadRefusedError("upload must start with a header", "bad-message");
    } else if (body.$case === "cancel") {
      throw new UploadRefusedError("upload given up by the agent", "cancelled");
    } else if (body.$case === "frame") {
      if (this.accounting) throw new UploadRefusedError("frame after accounting", "bad-message");
      await this.session.addFrame(body.value);
    } else {
      this.accounting = toAccounting(body.value);
    }
  }

  /** Commits the upload once every message is in: answered only when the commit is durable (ResultSink#commit). */
  async commit(): Promise<UploadResult> {
    if (!this.session) throw new UploadRefusedError("upload without header", "bad-message");
    if (!this.accounting) throw truncatedUpload();
    const written = await this.session.commit(this.accounting);
    return { committed: true, framesWritten: written, message: "" };
  }

  /** Drops what the upload staged, logs why and maps the error to the status the agent is answered with. */
  async fail(err: unknown, log: Logger, onRefused?: RefusalHook): Promise<Partial<ServiceError>> {
    await this.session?.abort().catch(() => undefined);
    const h = this.session?.header;
    log.warn({ err: err instanceof Error ? err.message : err, attemptId: h?.attemptId, chunkId: h?.chunkId, agentId: h?.agentId }, "upload refused");
    if (h && err instanceof UploadRefusedError) onRefused?.(h, err.reason);
    return toServiceError(err);
  }
}
