import { parseKinds, type KindCapability } from "../../shared/steps/kind-capability.ts";

/**
 * The agents' JSON columns (GPUs, tags, kinds) parsed once per distinct text.
 * An agent row is read on every heartbeat, claim and dispatch pass, and its
 * JSON rarely changes; parsing it (and validating the kinds with zod) each
 * time was a visible share of the coordinator's CPU per chunk. The parsed
 * values are shared between readers: treat them as read-only. Bounded: each
 * map is cleared past its limit.
 */

const parsed = new Map<string, unknown>();
const kinds = new Map<string, KindCapability[]>();

/** JSON.parse(text), the same value for the same text. */
export function parseJsonOnce<T>(text: string): T {
  let v = parsed.get(text);
  if (v === undefined) {
    if (parsed.size >= 10_000) parsed.clear();
    v = JSON.parse(text) as unknown;
    parsed.set(text, v);
  }
  return v as T;
}

/** parseKinds(text) (shared/steps/kind-capability.ts), the same value for the same text. */
export function parseKindsOnce(text: string): KindCapability[] {
  let v = kinds.get(text);
  if (v === undefined) {
    if (kinds.size >= 1000) kinds.clear();
    v = parseKinds(text);
    kinds.set(text, v);
  }
  return v;
}
