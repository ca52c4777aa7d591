/**
 * A ResultSink that takes every frame and commits at once (no files, no
 * SQLite), for the benches that price the upload transport alone
 * (bench/sink-call-vs-stream.bench.ts, bench/upload-stream-open.bench.ts).
 */
import type { ResultSink, UploadHeader } from "../coordinator/sink/result-sink.ts";

export function nullSink(): ResultSink {
  const session = (header: UploadHeader) => ({ header, addFrame: async () => undefined, commit: async () => 1, abort: async () => undefined });
  return { begin: async (h: UploadHeader) => session(h) } as unknown as ResultSink;
}
