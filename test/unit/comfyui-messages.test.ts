import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBinaryFrame, PromptRejectedSchema, rejectionMessage } from "../../agent/executors/comfyui/comfy-messages.ts";

/** The edge of the comfyui client: binary frames of any length, ComfyUI's 400 bodies turned into its own words. */

test("binary frames: the 8-byte preview header is read, short or unknown frames never throw", () => {
  const preview = new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2, 0x89, 0x50]);
  assert.deepEqual(parseBinaryFrame(preview), { event: 1, imageFormat: "png", payload: new Uint8Array([0x89, 0x50]) });
  assert.equal(parseBinaryFrame(new Uint8Array([0, 0, 0, 1, 0, 0]))?.event ?? null, null);
  assert.equal(parseBinaryFrame(new Uint8Array([1, 2])), null);
  assert.deepEqual(parseBinaryFrame(new Uint8Array([0, 0, 0, 3, 0, 0, 0, 1, 65])), { event: 3, payload: new Uint8Array([0, 0, 0, 1, 65]) });
  assert.equal(parseBinaryFrame(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 9]))?.imageFormat, "unknown");
});

test("a 400 from /prompt reads as ComfyUI's message, node by node", () => {
  const body = PromptRejectedSchema.parse({
    error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details: "", extra_info: {} },
    node_errors: {
      "3": { errors: [{ type: "value_smaller_than_min", message: "Value 0 smaller than min of 1", details: "steps", extra_info: {} }], dependent_outputs: ["9"], class_type: "KSampler" },
      "4": { errors: [{ type: "value_not_in_list", message: "Value not in list", details: "ckpt_name: 'x' not in []", extra_info: {} }], dependent_outputs: ["9"], class_type: "CheckpointLoaderSimple" },
    },
  });
  assert.equal(rejectionMessage(body), "Prompt outputs failed validation: KSampler #3: Value 0 smaller than min of 1: steps; CheckpointLoaderSimple #4: Value not in list: ckpt_name: 'x' not in []");
  const missing = PromptRejectedSchema.parse({ error: { type: "invalid_prompt", message: "Cannot execute because node Foo does not exist.", details: "Node ID '#11'", extra_info: {} }, node_errors: {} });
  assert.equal(rejectionMessage(missing), "Cannot execute because node Foo does not exist.: Node ID '#11'");
  assert.equal(rejectionMessage(PromptRejectedSchema.parse({ error: "no prompt", node_errors: [] })), "no prompt");
});
