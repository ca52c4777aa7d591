import { z } from "zod";

/** What a chunk work message on JetStream carries: just enough to claim it. */
export const WorkMessageSchema = z.object({
  chunkId: z.string().min(1),
  jobId: z.string().min(1),
  dispatchId: z.string().min(1),
  /** Set on a speculative copy (a second attempt while the first still runs). */
  speculative: z.boolean().optional(),
});
export type WorkMessage = z.infer<typeof WorkMessageSchema>;

/** Input description the agent reads frames from (mirrors the job spec's input). */
export const WorkInputSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("generated"), width: z.number().int(), height: z.number().int(), frames: z.number().int(), seed: z.number().int() }),
  z.object({ type: z.literal("image-sequence"), path: z.string() }),
  z.object({ type: z.literal("video"), path: z.string() }),
]);
export type WorkInput = z.infer<typeof WorkInputSchema>;

/** The work an agent receives when its claim succeeds. */
export const ChunkWorkSchema = z.object({
  jobId: z.string(),
  chunkId: z.string(),
  attemptId: z.string(),
  /** Frames to produce and upload, inclusive. */
  frameStart: z.number().int(),
  frameEnd: z.number().int(),
  /** Frames to read for context (temporal steps), inclusive; equal to the above for per-frame steps. */
  contextStart: z.number().int(),
  contextEnd: z.number().int(),
  seed: z.number().int(),
  input: WorkInputSchema,
  step: z.object({ id: z.string(), kind: z.string(), model: z.string(), modelSha256: z.string() }),
  /** Seconds the coordinator allows before it treats the attempt as lost. */
  ackWaitSeconds: z.number(),
});
export type ChunkWork = z.infer<typeof ChunkWorkSchema>;

/** Agent heartbeat, published every heartbeatMs on <p>.hb.<agentId>. */
export const HeartbeatSchema = z.object({
  agentId: z.string(),
  name: z.string(),
  /** idle | busy | draining | paused-foreign-gpu-use */
  status: z.string(),
  attemptId: z.string().nullable(),
  sentAtMs: z.number(),
  seq: z.number().int(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson<T>(schema: z.ZodType<T>, data: Uint8Array): T {
  return schema.parse(JSON.parse(new TextDecoder().decode(data)));
}
