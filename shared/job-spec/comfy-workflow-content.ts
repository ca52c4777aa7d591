import { sha256Bytes } from "../model-manifest/model-file-hash.ts";

/**
 * A comfyui step's workflow travels inside the submit request: `nightshift
 * submit` reads the file on the artist's machine and sends its text with its
 * sha256, so the coordinator never reads a path from the submitting machine.
 * The CLI (before it sends) and the coordinator (before it accepts) check the
 * text with the same rules here: UTF-8, JSON, ComfyUI's API format.
 */

/** A workflow larger than this is refused; API-format workflows are kilobytes, an embedded image makes megabytes. */
export const MAX_WORKFLOW_BYTES = 16 * 1024 * 1024;

/** The workflow as `nightshift submit` sends it: the artist's file name (for messages), the sha256 of its bytes and its text. */
export interface ComfyWorkflowByContent {
  file: string;
  sha256: string;
  text: string;
}

/** ComfyUI's API format: {node id: {class_type, inputs}}. */
export type ApiWorkflow = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** The file's bytes as a workflow by content (and its parsed graph), or why they are not one. */
export function workflowByContent(file: string, bytes: Uint8Array): { sent: ComfyWorkflowByContent; graph: ApiWorkflow } | { problem: string } {
  if (bytes.byteLength > MAX_WORKFLOW_BYTES) return { problem: `is ${bytes.byteLength} bytes, more than a workflow may be (${MAX_WORKFLOW_BYTES})` };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { problem: "is not UTF-8 text" };
  }
  const graph = parseApiWorkflow(text);
  if (typeof graph === "string") return { problem: graph };
  return { sent: { file, sha256: sha256Bytes(bytes), text }, graph };
}

/** The text as an API-format workflow, or why it is not one (the UI format is refused with a hint). */
export function parseApiWorkflow(text: string): ApiWorkflow | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return `is not JSON: ${(err as Error).message}`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "must be a JSON object in ComfyUI's API format";
  if ("nodes" in parsed && "links" in parsed) return "is in ComfyUI's UI format; export it with 'Save (API Format)'";
  for (const [id, node] of Object.entries(parsed)) {
    const n = node as { class_type?: unknown; inputs?: unknown };
    if (typeof n !== "object" || n === null || typeof n.class_type !== "string" || typeof n.inputs !== "object" || n.inputs === null) {
      return `node '${id}' has no class_type and inputs: not ComfyUI's API format`;
    }
  }
  return parsed as ApiWorkflow;
}
