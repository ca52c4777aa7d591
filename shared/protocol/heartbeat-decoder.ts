import { BadInputError } from "../errors.ts";
import type { Heartbeat } from "./messages.ts";

/**
 * The coordinator's decoder of heartbeats: HeartbeatSchema (messages.ts), checked
 * by hand. Every agent sends one a second, so this runs 64-256 times a second
 * with other work between the calls; zod's generic parse, cold each time (not
 * yet optimised, out of the CPU caches), cost 150-250 us of CPU a heartbeat in
 * the farm against about 12 us for the JSON.parse alone. This accepts and
 * refuses exactly what the schema does and returns what it returns (unknown keys
 * dropped): test/unit/heartbeat-decoder.test.ts holds the two side by side,
 * field by field and on mutated heartbeats. A change to the schema must come
 * here too; that test fails until it does.
 */
const utf8 = new TextDecoder();

export function decodeHeartbeat(data: Uint8Array): Heartbeat {
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(data));
  } catch (err) {
    throw new BadInputError("heartbeat: not JSON", { field: "heartbeat", cause: err });
  }
  const o = record(v, "heartbeat");
  const hb: Heartbeat = {
    agentId: str(o.agentId, "agentId"),
    name: str(o.name, "name"),
    status: str(o.status, "status"),
    attemptId: o.attemptId === null ? null : str(o.attemptId, "attemptId"),
    sentAtMs: num(o.sentAtMs, "sentAtMs"),
    seq: int(o.seq, "seq"),
  };
  if (o.answers !== undefined) hb.answers = num(o.answers, "answers");
  if (o.natsConnection !== undefined) hb.natsConnection = str(o.natsConnection, "natsConnection", 120);
  if (o.otherAttemptIds !== undefined) hb.otherAttemptIds = strings(o.otherAttemptIds, "otherAttemptIds", 8, Infinity);
  if (o.note !== undefined) hb.note = str(o.note, "note", 500);
  if (o.downKinds !== undefined) hb.downKinds = strings(o.downKinds, "downKinds", 16, 32);
  if (o.loadedModels !== undefined) hb.loadedModels = strings(o.loadedModels, "loadedModels", 64, 128);
  if (o.cachedAssets !== undefined) hb.cachedAssets = strings(o.cachedAssets, "cachedAssets", 1024, 128);
  if (o.progress !== undefined) hb.progress = o.progress === null ? null : progress(o.progress);
  return hb;
}

type Progress = NonNullable<Heartbeat["progress"]>;

function progress(v: unknown): Progress {
  const o = record(v, "progress");
  const p: Progress = {
    attemptId: str(o.attemptId, "progress.attemptId"),
    framesDone: int(o.framesDone, "progress.framesDone", 0),
    framesTotal: int(o.framesTotal, "progress.framesTotal", 0),
    elapsedMs: num(o.elapsedMs, "progress.elapsedMs", 0),
  };
  if (o.inFrame !== undefined) {
    const f = record(o.inFrame, "progress.inFrame");
    p.inFrame = {
      frame: int(f.frame, "progress.inFrame.frame"),
      fraction: num(f.fraction, "progress.inFrame.fraction", 0, 1),
      detail: str(f.detail, "progress.inFrame.detail", 120),
    };
  }
  return p;
}

function refuse(field: string, what: string): never {
  throw new BadInputError(`heartbeat: ${field} ${what}`, { field: `heartbeat.${field}` });
}

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) refuse(field, "must be an object");
  return v as Record<string, unknown>;
}

function str(v: unknown, field: string, max = Infinity): string {
  if (typeof v !== "string") refuse(field, "must be a string");
  if (v.length > max) refuse(field, `must be at most ${max} characters`);
  return v;
}

function num(v: unknown, field: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== "number" || !Number.isFinite(v)) refuse(field, "must be a number");
  if (v < min || v > max) refuse(field, `must be within ${min}..${max}`);
  return v;
}

function int(v: unknown, field: string, min = -Infinity): number {
  if (!Number.isSafeInteger(v)) refuse(field, "must be an integer");
  return num(v, field, min);
}

function strings(v: unknown, field: string, maxItems: number, maxLength: number): string[] {
  if (!Array.isArray(v)) refuse(field, "must be an array");
  if (v.length > maxItems) refuse(field, `must hold at most ${maxItems} items`);
  return v.map((s, i) => str(s, `${field}[${i}]`, maxLength));
}
