import { z } from "zod";
import { WorkStepSchema } from "../steps/work-step.ts";

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
  /** The job's input frames; null when the first step makes frames from nothing (Blender, ComfyUI). */
  input: WorkInputSchema.nullable(),
  /** The frame steps, in chain order; a frame leaves the agent when the last one has made it. */
  steps: z.array(WorkStepSchema).min(1),
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
  /** The agent's other live attempts: one uploading and committing, one claimed ahead waiting for the executor. */
  otherAttemptIds: z.array(z.string()).max(8).optional(),
  sentAtMs: z.number(),
  seq: z.number().int(),
  /** The `ask` of the last heartbeat-now this agent got (AgentControlSchema): this heartbeat was sent after it. */
  answers: z.number().optional(),
  /**
   * The NATS connection the agent was on when it made this heartbeat, `<server id>/<client id>` from the server's
   * INFO: the coordinator takes nats-server's disconnect advisory for an earlier connection (dropped as stale
   * and dialled again) as no sign the agent is gone.
   */
  natsConnection: z.string().max(120).optional(),
  /** Why the agent is not taking work (foreign GPU use), shown in `nightshift agents`. */
  note: z.string().max(500).optional(),
  /** Step kinds the agent advertised whose tool is down now (its ComfyUI stopped answering): placed nowhere until back. */
  downKinds: z.array(z.string().max(32)).max(16).optional(),
  /** sha256 of the models the agent holds loaded; placement prefers agents that hold a job's model. */
  loadedModels: z.array(z.string().max(128)).max(64).optional(),
  /** sha256 of the assets in the agent's cache; placement counts an agent that must fetch a model as dearer. */
  cachedAssets: z.array(z.string().max(128)).max(1024).optional(),
  /** Frames of the current attempt uploaded so far (`nightshift watch`, end-of-job estimates). */
  progress: z
    .object({
      attemptId: z.string(),
      framesDone: z.number().int().min(0),
      framesTotal: z.number().int().min(0),
      /** Milliseconds since the agent started the attempt, by its own clock. */
      elapsedMs: z.number().min(0),
      /** Progress inside the frame being made (Blender samples, ComfyUI steps). */
      inFrame: z.object({ frame: z.number().int(), fraction: z.number().min(0).max(1), detail: z.string().max(120) }).optional(),
    })
    .nullable()
    .optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** Coordinator -> agent, on <p>.ctl.<agentId> (core NATS). */
export const AgentControlSchema = z.discriminatedUnion("type", [
  /** Stop this attempt now: its job was cancelled, or the other copy of a speculative pair committed first. */
  z.object({ type: z.literal("cancel-attempt"), attemptId: z.string().min(1), reason: z.string().max(500) }),
  /** Fetch these assets from the model store now: a chunk that needs them waits on this agent's subject. */
  z.object({
    type: z.literal("prefetch"),
    assets: z.array(z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })).max(64),
  }),
  /**
   * Send a heartbeat now: a restarted coordinator asks once it listens for them, instead of waiting up to a period
   * to hear each agent (its pool is held until they are heard: lost-work-first.ts holdsPool). An agent of an
   * earlier version logs it as malformed and heartbeats on its period. `ask` (since the fifteenth round): the
   * ask's own number, echoed in the heartbeat's `answers`, so that a heartbeat already on its way when the
   * coordinator asked is not taken for an answer (roll-call.ts).
   */
  z.object({ type: z.literal("heartbeat-now"), ask: z.number().optional() }),
]);
export type AgentControl = z.infer<typeof AgentControlSchema>;

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson<T>(schema: z.ZodType<T>, data: Uint8Array): T {
  return schema.parse(JSON.parse(new TextDecoder().decode(data)));
}
