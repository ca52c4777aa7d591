import { test } from "node:test";
import assert from "node:assert/strict";
import { HeartbeatSchema } from "../../shared/protocol/messages.ts";
import { decodeHeartbeat } from "../../shared/protocol/heartbeat-decoder.ts";
import { BadInputError } from "../../shared/errors.ts";

const te = new TextEncoder();

const FULL = {
  agentId: "agt_1",
  name: "gpu-1",
  status: "busy",
  attemptId: "att_1",
  otherAttemptIds: ["att_0", "att_2"],
  sentAtMs: 1_700_000_000_123.5,
  seq: 42,
  answers: 1_700_000_000_100,
  natsConnection: "NBDVB7XQSCPXUR5AS466UWEFR4X2CRFGC5PJKUXBPMZP3BWA6ZPSCICF/6",
  note: "paused: foreign GPU use",
  downKinds: ["comfyui"],
  loadedModels: ["a".repeat(64)],
  cachedAssets: ["b".repeat(64), "c".repeat(64)],
  progress: { attemptId: "att_1", framesDone: 2, framesTotal: 4, elapsedMs: 812.5, inFrame: { frame: 3, fraction: 0.5, detail: "sample 64/128" } },
};
const MINIMAL = { agentId: "agt_1", name: "gpu-1", status: "idle", attemptId: null, sentAtMs: 0, seq: 0 };

/** The schema's verdict and the decoder's on the same bytes: both refuse, or both return the same value. */
function same(text: string): boolean {
  let expected: unknown;
  let zodOk = true;
  try {
    expected = HeartbeatSchema.parse(JSON.parse(text));
  } catch {
    zodOk = false;
  }
  let actual: unknown;
  let ours = true;
  try {
    actual = decodeHeartbeat(te.encode(text));
  } catch (err) {
    assert.ok(err instanceof BadInputError, `a named error, not ${String(err)}`);
    ours = false;
  }
  assert.equal(ours, zodOk, `${zodOk ? "accepted" : "refused"} by the schema, not by the decoder: ${text}`);
  if (zodOk) assert.deepEqual(actual, expected, text);
  return zodOk;
}

test("the schema's heartbeats decode to the schema's values, unknown keys dropped", () => {
  assert.ok(same(JSON.stringify(FULL)));
  assert.ok(same(JSON.stringify(MINIMAL)));
  assert.ok(same(JSON.stringify({ ...MINIMAL, progress: null, extra: { x: 1 }, otherAttemptIds: [] })));
  assert.ok(same(JSON.stringify({ ...FULL, progress: { ...FULL.progress, inFrame: undefined, zz: 1 } })));
  assert.deepEqual(Object.keys(decodeHeartbeat(te.encode(JSON.stringify({ ...MINIMAL, extra: 1 })))).sort(), Object.keys(MINIMAL).sort());
});

test("every field the schema refuses is refused, naming the field", () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ["agentId", { agentId: 7 }],
    ["name", { name: null }],
    ["status", { status: ["idle"] }],
    ["attemptId", { attemptId: 3 }],
    ["sentAtMs", { sentAtMs: "now" }],
    ["seq", { seq: 1.5 }],
    ["seq", { seq: 2 ** 53 }],
    ["answers", { answers: "soon" }],
    ["natsConnection", { natsConnection: 6 }],
    ["natsConnection", { natsConnection: "x".repeat(121) }],
    ["note", { note: "x".repeat(501) }],
    ["otherAttemptIds", { otherAttemptIds: Array(9).fill("a") }],
    ["otherAttemptIds[1]", { otherAttemptIds: ["a", 2] }],
    ["downKinds", { downKinds: Array(17).fill("k") }],
    ["downKinds[0]", { downKinds: ["k".repeat(33)] }],
    ["loadedModels", { loadedModels: "a" }],
    ["cachedAssets", { cachedAssets: Array(1025).fill("h") }],
    ["cachedAssets[0]", { cachedAssets: ["h".repeat(129)] }],
    ["progress", { progress: "half" }],
    ["progress.framesDone", { progress: { ...FULL.progress, framesDone: -1 } }],
    ["progress.framesTotal", { progress: { ...FULL.progress, framesTotal: 0.5 } }],
    ["progress.elapsedMs", { progress: { ...FULL.progress, elapsedMs: -0.1 } }],
    ["progress.attemptId", { progress: { ...FULL.progress, attemptId: undefined } }],
    ["progress.inFrame", { progress: { ...FULL.progress, inFrame: [] } }],
    ["progress.inFrame.fraction", { progress: { ...FULL.progress, inFrame: { frame: 1, fraction: 1.01, detail: "" } } }],
    ["progress.inFrame.detail", { progress: { ...FULL.progress, inFrame: { frame: 1, fraction: 1, detail: "d".repeat(121) } } }],
    ["progress.inFrame.frame", { progress: { ...FULL.progress, inFrame: { frame: "1", fraction: 1, detail: "" } } }],
  ];
  for (const [field, change] of bad) {
    const text = JSON.stringify({ ...FULL, ...change });
    assert.equal(same(text), false, text);
    assert.throws(() => decodeHeartbeat(te.encode(text)), (err: BadInputError) => err.field === `heartbeat.${field}`, field);
  }
  for (const field of ["agentId", "name", "status", "attemptId", "sentAtMs", "seq"]) {
    const { [field]: _gone, ...rest } = MINIMAL as Record<string, unknown>;
    assert.equal(same(JSON.stringify(rest)), false, `${field} is required`);
  }
  for (const text of ["", "[]", "null", "42", '"hb"', "{", '{"seq": 1e400}']) assert.equal(same(text.startsWith("{\"seq\"") ? JSON.stringify(MINIMAL).replace('"seq":0', '"seq":1e400') : text), false, text);
  assert.equal(same(JSON.stringify(MINIMAL).replace('"sentAtMs":0', '"sentAtMs":-1e400')), false, "an infinite number");
});

test("mutated heartbeats: the decoder and the schema agree on every one", () => {
  const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, "", "x".repeat(130), [], ["a"], Array(20).fill("k"), {}, { frame: 1, fraction: 0.2, detail: "" }, FULL.progress];
  const keys = [...new Set([...Object.keys(FULL), "inFrame", "framesDone", "unknownKey"])];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const hb = structuredClone(FULL) as Record<string, unknown>;
    const target = rnd(3) === 0 ? (hb.progress as Record<string, unknown>) : hb;
    for (let k = 0, n = 1 + rnd(2); k < n; k++) {
      const key = keys[rnd(keys.length)] as string;
      if (rnd(4) === 0) delete target[key];
      else target[key] = structuredClone(values[rnd(values.length)]);
    }
    if (same(JSON.stringify(hb))) accepted++;
  }
  assert.ok(accepted > 100 && accepted < 2900, `both outcomes exercised (${accepted} of 3000 accepted)`);
});
