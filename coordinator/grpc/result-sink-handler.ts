import type { ServerReadableStream, sendUnaryData } from "@grpc/grpc-js";
import type { ResultSinkServer, UploadMessage, UploadResult } from "../../proto/gen/nightshift/v1/sink.ts";
import type { Logger } from "../../shared/log.ts";
import type { ResultSink } from "../sink/result-sink.ts";
import { messagesOf } from "./client-stream-messages.ts";
import { UploadSteps, type RefusalHook } from "./upload-steps.ts";
import { uploadStreamHandler } from "./upload-stream-handler.ts";
import type { UploadStreams } from "./upload-streams.ts";

export type { RefusalHook } from "./upload-steps.ts";

/**
 * gRPC edge of the sink. Upload reads the client stream message by message,
 * so a slow disk pauses the HTTP/2 stream (flow control) instead of buffering
 * frames in memory. Protocol: header, frames..., accounting, end (the rules
 * are upload-steps.ts's). UploadStream carries many such uploads on one
 * stream (upload-stream-handler.ts), which `uploadStreams` ends at the
 * coordinator's stop (upload-streams.ts).
 */
export function resultSinkHandler(sink: ResultSink, log: Logger, onRefused?: RefusalHook, uploadStreams?: UploadStreams): ResultSinkServer {
  return {
    upload(call: ServerReadableStream<UploadMessage, UploadResult>, callback: sendUnaryData<UploadResult>): void {
      const steps = new UploadSteps(sink);
      const run = async (): Promise<UploadResult> => {
        for await (const msg of messagesOf<UploadMessage>(call)) await steps.take(msg);
        return steps.commit();
      };
      run()
        .then((res) => callback(null, res))
        .catch(async (err: unknown) => callback(await steps.fail(err, log, onRefused)));
    },
    uploadStream: uploadStreamHandler(sink, log, onRefused, uploadStreams),
  };
}
