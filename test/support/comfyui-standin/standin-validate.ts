import type { NodeClass, RunContext, InputListing } from "./standin-nodes.ts";

/**
 * The stand-in's copy of ComfyUI's prompt validation (execution.py
 * validate_prompt / validate_inputs): the same error types, messages and
 * details, the same `node_errors` shape ({node id: {errors, dependent_outputs,
 * class_type}}) and the same rule that a prompt is queued when at least one
 * output validates. Tests only.
 */

export interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface NodeErrors {
  [nodeId: string]: { errors: ComfyError[]; dependent_outputs: string[]; class_type: string };
}

export type ApiPrompt = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;

export type Validation = { ok: true; outputs: string[]; nodeErrors: NodeErrors } | { ok: false; error: ComfyError; nodeErrors: NodeErrors };

const err = (type: string, message: string, details: string, extra: Record<string, unknown> = {}): ComfyError => ({ type, message, details, extra_info: extra });

export function validatePrompt(prompt: ApiPrompt, classes: ReadonlyMap<string, NodeClass>, ctx: InputListing): Validation {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    if (typeof node?.class_type !== "string") {
      return { ok: false, error: err("invalid_prompt", "Cannot execute because a node is missing the class_type property.", `Node ID '#${id}'`), nodeErrors: {} };
    }
    const cls = classes.get(node.class_type);
    if (cls === undefined) {
      return { ok: false, error: err("invalid_prompt", `Cannot execute because node ${node.class_type} does not exist.`, `Node ID '#${id}'`), nodeErrors: {} };
    }
    if (cls.outputNode) outputs.push(id);
  }
  if (outputs.length === 0) return { ok: false, error: err("prompt_no_outputs", "Prompt has no outputs", ""), nodeErrors: {} };

  const validated = new Map<string, { ok: boolean; errors: ComfyError[] }>();
  const validateNode = (id: string): boolean => {
    const seen = validated.get(id);
    if (seen !== undefined) return seen.ok;
    validated.set(id, { ok: true, errors: [] }); // cycle guard
    const node = prompt[id]!;
    const cls = classes.get(node.class_type!)!;
    const inputs = node.inputs ?? {};
    const spec = cls.input(ctx);
    const all = { ...spec.required, ...(spec.optional ?? {}) };
    const errors: ComfyError[] = [];
    let ok = true;
    for (const [name, [type, opts = {}]] of Object.entries(all)) {
      if (!(name in inputs)) {
        if (name in spec.required) errors.push(err("required_input_missing", "Required input is missing", name, { input_name: name }));
        continue;
      }
      let val = inputs[name];
      if (Array.isArray(val)) {
        if (val.length !== 2) {
          errors.push(err("bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]", name, { input_name: name, received_value: val }));
          continue;
        }
        const from = prompt[String(val[0])];
        const fromCls = from?.class_type === undefined ? undefined : classes.get(from.class_type);
        const received = fromCls?.output[Number(val[1])];
        if (received === undefined || (typeof type === "string" && received !== type && type !== "*")) {
          errors.push(err("return_type_mismatch", "Return type mismatch between linked nodes", `${name}, received_type(${String(received)}) mismatch input_type(${String(type)})`, { input_name: name, received_type: received, linked_node: val }));
          continue;
        }
        if (!validateNode(String(val[0]))) ok = false;
        continue;
      }
      if (type === "INT" || type === "FLOAT") {
        const n = type === "INT" ? Math.trunc(Number(val)) : Number(val);
        if (typeof val === "boolean" || val === null || Number.isNaN(n)) {
          errors.push(err("invalid_input_type", `Failed to convert an input value to a ${type} value`, `${name}, ${String(val)}, invalid literal`, { input_name: name, received_value: val }));
          continue;
        }
        val = n;
      }
      if (cls.validate?.inputs.includes(name)) continue;
      if (typeof opts.min === "number" && (val as number) < opts.min) {
        errors.push(err("value_smaller_than_min", `Value ${String(val)} smaller than min of ${opts.min}`, name, { input_name: name, received_value: val }));
        continue;
      }
      if (typeof opts.max === "number" && (val as number) > opts.max) {
        errors.push(err("value_bigger_than_max", `Value ${String(val)} bigger than max of ${opts.max}`, name, { input_name: name, received_value: val }));
        continue;
      }
      if (Array.isArray(type) && !type.includes(val as string)) {
        const list = type.length > 20 ? `(list of length ${type.length})` : `[${type.map((t) => `'${t}'`).join(", ")}]`;
        errors.push(err("value_not_in_list", "Value not in list", `${name}: '${String(val)}' not in ${list}`, { input_name: name, received_value: val }));
      }
    }
    if (cls.validate !== undefined) {
      const answer = cls.validate.check(inputs, ctx);
      if (answer !== true) for (const name of cls.validate.inputs) errors.push(err("custom_validation_failed", "Custom validation failed for node", `${name} - ${answer}`, { input_name: name }));
    }
    const result = { ok: ok && errors.length === 0, errors };
    validated.set(id, result);
    return result.ok;
  };

  const good: string[] = [];
  const failed: Array<[string, ComfyError[]]> = [];
  const nodeErrors: NodeErrors = {};
  for (const o of outputs.sort()) {
    if (validateNode(o)) {
      good.push(o);
      continue;
    }
    failed.push([o, validated.get(o)!.errors]);
    for (const [id, r] of validated) {
      if (r.ok || r.errors.length === 0) continue;
      nodeErrors[id] ??= { errors: r.errors, dependent_outputs: [], class_type: prompt[id]!.class_type! };
      nodeErrors[id].dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, es]) => es.map((e) => `${e.message}: ${e.details}`)).join("\n");
    return { ok: false, error: err("prompt_outputs_failed_validation", "Prompt outputs failed validation", details), nodeErrors };
  }
  return { ok: true, outputs: good, nodeErrors };
}
