import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adaptiveBase } from "../../coordinator/planner/chunk-size.ts";
import { planChunks } from "../../coordinator/planner/plan-chunks.ts";
import type { Chunking } from "../../shared/job-spec/index.ts";

const adaptive = (targetSeconds: number, minSize: number, maxSize: number): Chunking => ({ mode: "adaptive", targetSeconds, minSize, maxSize });

/** [frameStart, frameEnd] pairs of a plan without temporal steps. */
function ranges(plan: ReturnType<typeof planChunks>): Array<[number, number]> {
  for (const c of plan) assert.deepEqual([c.contextStart, c.contextEnd], [c.frameStart, c.frameEnd]);
  return plan.map((c) => [c.frameStart, c.frameEnd]);
}

describe("adaptiveBase", () => {
  it("sizes from the slowest agent, clamped to min and max", () => {
    const speeds = [
      { agentId: "fast", framesPerSecond: 4 },
      { agentId: "slow", framesPerSecond: 2 },
    ];
    assert.deepEqual(adaptiveBase({ targetSeconds: 10, minSize: 5, maxSize: 50 }, speeds), { base: 20, agents: 2 });
    assert.deepEqual(adaptiveBase({ targetSeconds: 60, minSize: 5, maxSize: 50 }, speeds), { base: 50, agents: 2 });
    assert.deepEqual(adaptiveBase({ targetSeconds: 1, minSize: 5, maxSize: 50 }, speeds), { base: 5, agents: 2 });
    assert.deepEqual(adaptiveBase({ targetSeconds: 10, minSize: 1, maxSize: 50 }, [{ agentId: "a", framesPerSecond: 0.25 }]), {
      base: 3,
      agents: 1,
    });
  });

  it("ignores speeds that are not finite and positive; with none, uses minSize", () => {
    const bogus = [
      { agentId: "zero", framesPerSecond: 0 },
      { agentId: "nan", framesPerSecond: Number.NaN },
      { agentId: "inf", framesPerSecond: Number.POSITIVE_INFINITY },
      { agentId: "neg", framesPerSecond: -3 },
    ];
    assert.deepEqual(adaptiveBase({ targetSeconds: 10, minSize: 7, maxSize: 50 }, bogus), { base: 7, agents: 1 });
    assert.deepEqual(adaptiveBase({ targetSeconds: 10, minSize: 7, maxSize: 50 }, [...bogus, { agentId: "ok", framesPerSecond: 3 }]), {
      base: 30,
      agents: 1,
    });
  });
});

describe("planChunks: adaptive", () => {
  it("shrinks chunks toward the end so that two agents finish together", () => {
    const agentSpeeds = [
      { agentId: "a", framesPerSecond: 2 },
      { agentId: "b", framesPerSecond: 4 },
      { agentId: "idle", framesPerSecond: 0 },
    ];
    const plan = planChunks({ frameStart: 0, frameEnd: 99, chunking: adaptive(10, 5, 50), agentSpeeds });
    assert.deepEqual(ranges(plan), [
      [0, 19],
      [20, 39],
      [40, 54],
      [55, 66],
      [67, 75],
      [76, 81],
      [82, 86],
      [87, 91],
      [92, 99],
    ]);
  });

  it("caps the base at maxSize and folds the last runt into the final chunk", () => {
    const plan = planChunks({
      frameStart: 0,
      frameEnd: 199,
      chunking: adaptive(60, 10, 50),
      agentSpeeds: [{ agentId: "a", framesPerSecond: 100 }],
    });
    assert.deepEqual(ranges(plan), [
      [0, 49],
      [50, 99],
      [100, 149],
      [150, 174],
      [175, 187],
      [188, 199],
    ]);
  });

  it("uses minSize chunks when no speed is known yet", () => {
    assert.deepEqual(ranges(planChunks({ frameStart: 0, frameEnd: 34, chunking: adaptive(60, 10, 100) })), [
      [0, 9],
      [10, 19],
      [20, 34],
    ]);
  });

  it("leaves a runt first when folding it in would pass maxSize", () => {
    assert.deepEqual(ranges(planChunks({ frameStart: 0, frameEnd: 14, chunking: adaptive(60, 10, 10) })), [
      [0, 4],
      [5, 14],
    ]);
  });

  it("plans a single frame and a range smaller than minSize as one chunk", () => {
    assert.deepEqual(ranges(planChunks({ frameStart: 7, frameEnd: 7, chunking: adaptive(60, 10, 100) })), [[7, 7]]);
    assert.deepEqual(ranges(planChunks({ frameStart: 0, frameEnd: 5, chunking: adaptive(60, 10, 100) })), [[0, 5]]);
  });

  it("restarts at each shot, with temporal context clipped at the cuts", () => {
    const plan = planChunks({
      frameStart: 0,
      frameEnd: 39,
      chunking: adaptive(10, 4, 20),
      shots: [
        { start: 0, end: 29 },
        { start: 30, end: 39 },
      ],
      temporal: { window: 3 },
      agentSpeeds: [{ agentId: "a", framesPerSecond: 1 }],
    });
    assert.deepEqual(plan, [
      { index: 0, frameStart: 0, frameEnd: 9, contextStart: 0, contextEnd: 10, shot: 0 },
      { index: 1, frameStart: 10, frameEnd: 19, contextStart: 9, contextEnd: 20, shot: 0 },
      { index: 2, frameStart: 20, frameEnd: 29, contextStart: 19, contextEnd: 29, shot: 0 },
      { index: 3, frameStart: 30, frameEnd: 34, contextStart: 30, contextEnd: 35, shot: 1 },
      { index: 4, frameStart: 35, frameEnd: 39, contextStart: 34, contextEnd: 39, shot: 1 },
    ]);
  });
});
