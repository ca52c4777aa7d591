import { z } from "zod";

/**
 * The shapes of what ComfyUI sends, checked at the edge: websocket JSON
 * messages ({type, data}), binary frames (a big-endian uint32 event type, then
 * for previews a uint32 image type and the image), the /prompt answers and
 * the /history entry. Only the fields nightshift reads are required; ComfyUI
 * adds fields from version to version and those pass through.
 */

export const WsMessageSchema = z.object({ type: z.string(), data: z.looseObject({}).nullable().default(null) });
export type WsMessage = z.infer<typeof WsMessageSchema>;

/** Binary event types (ComfyUI protocol.py / server.py BinaryEventTypes). */
export const BINARY_PREVIEW_IMAGE = 1;
export const BINARY_TEXT = 3;
export const BINARY_PREVIEW_IMAGE_WITH_METADATA = 4;

export interface BinaryFrame {
  event: number;
  /** For event 1: "jpeg" | "png" | "unknown"; absent otherwise. */
  imageFormat?: string;
  payload: Uint8Array;
}

/** Reads a binary frame's header; null for a frame too short to have one (ignored, never a crash). */
export function parseBinaryFrame(buf: Uint8Array): BinaryFrame | null {
  if (buf.byteLength < 4) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const event = view.getUint32(0);
  if (event === BINARY_PREVIEW_IMAGE) {
    if (buf.byteLength < 8) return null;
    const t = view.getUint32(4);
    return { event, imageFormat: t === 1 ? "jpeg" : t === 2 ? "png" : "unknown", payload: buf.subarray(8) };
  }
  return { event, payload: buf.subarray(4) };
}

export const ComfyErrorSchema = z.looseObject({ type: z.string().default(""), message: z.string().default(""), details: z.string().default("") });

export const NodeErrorsSchema = z.record(
  z.string(),
  z.looseObject({ errors: z.array(ComfyErrorSchema).default([]), class_type: z.string().default("") }),
);

export const PromptAcceptedSchema = z.looseObject({ prompt_id: z.string(), number: z.number(), node_errors: z.unknown() });

export const PromptRejectedSchema = z.looseObject({
  error: z.union([ComfyErrorSchema, z.string()]),
  node_errors: z.union([NodeErrorsSchema, z.array(z.unknown())]).default({}),
});

export const OutputFileSchema = z.looseObject({ filename: z.string(), subfolder: z.string().default(""), type: z.string().default("output") });
export type OutputFile = z.infer<typeof OutputFileSchema>;

export const HistoryEntrySchema = z.looseObject({
  outputs: z.record(z.string(), z.looseObject({ images: z.array(OutputFileSchema).optional() })).default({}),
  status: z
    .looseObject({ status_str: z.string(), completed: z.boolean(), messages: z.array(z.tuple([z.string(), z.looseObject({})])).default([]) })
    .nullable()
    .default(null),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

export const QueueSchema = z.looseObject({ queue_running: z.array(z.array(z.unknown())), queue_pending: z.array(z.array(z.unknown())) });

export const SystemStatsSchema = z.looseObject({
  system: z.looseObject({ comfyui_version: z.string().default("unknown") }),
  devices: z.array(z.looseObject({ name: z.string().default(""), type: z.string().default(""), vram_total: z.number().default(0), vram_free: z.number().default(0) })).default([]),
});
export type SystemStats = z.infer<typeof SystemStatsSchema>;

export const ObjectInfoSchema = z.record(z.string(), z.unknown());

export const UploadAnswerSchema = z.looseObject({ name: z.string(), subfolder: z.string().default(""), type: z.string().default("input") });

/** ComfyUI's own words for a rejected prompt, node by node ("Prompt outputs failed validation: KSampler #3: Value 0 smaller than min of 1: steps"). */
export function rejectionMessage(body: z.infer<typeof PromptRejectedSchema>): string {
  const error = typeof body.error === "string" ? { message: body.error, details: "" } : body.error;
  const nodes = Array.isArray(body.node_errors) ? [] : Object.entries(body.node_errors);
  const lines = nodes.flatMap(([id, n]) => n.errors.map((e) => `${n.class_type} #${id}: ${e.message}${e.details === "" ? "" : `: ${e.details}`}`));
  if (lines.length > 0) return `${error.message}: ${lines.join("; ")}`;
  return error.details === "" ? error.message : `${error.message}: ${error.details}`;
}
