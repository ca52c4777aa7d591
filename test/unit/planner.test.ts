import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planChunks, type Chunk, type PlanInput } from "../../coordinator/planner/plan-chunks.ts";
import { BadInputError } from "../../shared/errors.ts";
import type { Chunking } from "../../shared/job-spec/index.ts";

const fixed = (size: number): Chunking => ({ mode: "fixed", size });
const shotsMode = (maxSize: number | null = null): Chunking => ({ mode: "shots", source: { kind: "detect", threshold: 0.3 }, maxSize });

/** [frameStart, frameEnd, contextStart, contextEnd, shot?] -> Chunk, index from position. */
function chunks(...rows: Array<[number, number, number, number, number?]>): Chunk[] {
  return rows.map(([frameStart, frameEnd, contextStart, contextEnd, shot], index) => ({
    index,
    frameStart,
    frameEnd,
    contextStart,
    contextEnd,
    ...(shot === undefined ? {} : { shot }),
  }));
}

describe("planChunks: fixed", () => {
  it("cuts consecutive chunks of the size, the last one shorter", () => {
    assert.deepEqual(planChunks({ frameStart: 0, frameEnd: 19, chunking: fixed(8) }), chunks([0, 7, 0, 7], [8, 15, 8, 15], [16, 19, 16, 19]));
  });

  it("plans a range of one frame as one chunk", () => {
    assert.deepEqual(planChunks({ frameStart: 5, frameEnd: 5, chunking: fixed(8) }), chunks([5, 5, 5, 5]));
    assert.deepEqual(planChunks({ frameStart: 5, frameEnd: 5, chunking: fixed(8), temporal: { window: 5 } }), chunks([5, 5, 5, 5]));
  });

  it("plans one chunk when the size is larger than the range", () => {
    assert.deepEqual(planChunks({ frameStart: 10, frameEnd: 29, chunking: fixed(100) }), chunks([10, 29, 10, 29]));
  });

  it("plans chunks of one frame", () => {
    assert.deepEqual(planChunks({ frameStart: 3, frameEnd: 5, chunking: fixed(1) }), chunks([3, 3, 3, 3], [4, 4, 4, 4], [5, 5, 5, 5]));
  });

  it("reads floor(window / 2) extra frames each side, clipped at the range", () => {
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 19, chunking: fixed(8), temporal: { window: 5 } }),
      chunks([0, 7, 0, 9], [8, 15, 6, 17], [16, 19, 14, 19]),
    );
  });

  it("uses an explicit overlap instead of the window's", () => {
    assert.deepEqual(
      planChunks({ frameStart: 100, frameEnd: 119, chunking: fixed(8), temporal: { window: 5, overlap: 3 } }),
      chunks([100, 107, 100, 110], [108, 115, 105, 118], [116, 119, 113, 119]),
    );
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 9, chunking: fixed(5), temporal: { window: 3, overlap: 0 } }),
      chunks([0, 4, 0, 4], [5, 9, 5, 9]),
    );
  });

  it("treats shots as hard boundaries in fixed mode too", () => {
    const shots = [
      { start: 0, end: 9 },
      { start: 10, end: 19 },
    ];
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 19, chunking: fixed(8), shots, temporal: { window: 3 } }),
      chunks([0, 7, 0, 8, 0], [8, 9, 7, 9, 0], [10, 17, 10, 18, 1], [18, 19, 17, 19, 1]),
    );
  });
});

describe("planChunks: shots", () => {
  const threeShots = [
    { start: 0, end: 23 },
    { start: 24, end: 35 },
    { start: 36, end: 47 },
  ];

  it("plans one chunk per shot", () => {
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 47, chunking: shotsMode(), shots: threeShots, temporal: { window: 5 } }),
      chunks([0, 23, 0, 23, 0], [24, 35, 24, 35, 1], [36, 47, 36, 47, 2]),
    );
  });

  it("splits shots into even pieces of at most maxSize; overlap never crosses a cut", () => {
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 47, chunking: shotsMode(10), shots: threeShots, temporal: { window: 5 } }),
      chunks(
        [0, 7, 0, 9, 0],
        [8, 15, 6, 17, 0],
        [16, 23, 14, 23, 0],
        [24, 29, 24, 31, 1],
        [30, 35, 28, 35, 1],
        [36, 41, 36, 43, 2],
        [42, 47, 40, 47, 2],
      ),
    );
  });

  it("splits 100 frames with maxSize 48 into 34, 33, 33", () => {
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 99, chunking: shotsMode(48), shots: [{ start: 0, end: 99 }] }),
      chunks([0, 33, 0, 33, 0], [34, 66, 34, 66, 0], [67, 99, 67, 99, 0]),
    );
  });

  it("keeps shot indices of the list and reads context inside the shot beyond the range", () => {
    assert.deepEqual(
      planChunks({ frameStart: 10, frameEnd: 40, chunking: fixed(8), shots: threeShots, temporal: { window: 5 } }),
      chunks([10, 17, 8, 19, 0], [18, 23, 16, 23, 0], [24, 31, 24, 33, 1], [32, 35, 30, 35, 1], [36, 40, 36, 42, 2]),
    );
    assert.deepEqual(
      planChunks({ frameStart: 30, frameEnd: 33, chunking: shotsMode(), shots: threeShots, temporal: { window: 3 } }),
      chunks([30, 33, 29, 34, 1]),
    );
  });

  it("plans a one-frame shot between two cuts", () => {
    const shots = [
      { start: 0, end: 4 },
      { start: 5, end: 5 },
      { start: 6, end: 9 },
    ];
    assert.deepEqual(
      planChunks({ frameStart: 0, frameEnd: 9, chunking: shotsMode(), shots, temporal: { window: 7 } }),
      chunks([0, 4, 0, 4, 0], [5, 5, 5, 5, 1], [6, 9, 6, 9, 2]),
    );
  });
});

describe("planChunks: refused input", () => {
  function refusedPlan(input: PlanInput, message: string): void {
    assert.throws(
      () => planChunks(input),
      (err: unknown) => err instanceof BadInputError && err.field === "chunking.shotList" && err.message === message,
    );
  }

  it("refuses shots that leave frames of the range uncovered", () => {
    const gap = [
      { start: 0, end: 9 },
      { start: 20, end: 29 },
    ];
    refusedPlan({ frameStart: 0, frameEnd: 29, chunking: shotsMode(), shots: gap }, "chunking.shotList: frames 10..19 are in no shot");
    refusedPlan({ frameStart: 0, frameEnd: 35, chunking: shotsMode(), shots: [{ start: 0, end: 29 }] }, "chunking.shotList: frames 30..35 are in no shot");
    refusedPlan({ frameStart: 0, frameEnd: 9, chunking: shotsMode(), shots: [{ start: 3, end: 9 }] }, "chunking.shotList: frames 0..2 are in no shot");
    refusedPlan({ frameStart: 0, frameEnd: 9, chunking: shotsMode(), shots: [] }, "chunking.shotList: frames 0..9 are in no shot");
  });

  it("refuses overlapping or unsorted shots", () => {
    const overlapping = [
      { start: 0, end: 10 },
      { start: 10, end: 19 },
    ];
    refusedPlan(
      { frameStart: 0, frameEnd: 19, chunking: shotsMode(), shots: overlapping },
      "chunking.shotList: shot 1 (10..19) starts before shot 0 (0..10) ends",
    );
    refusedPlan({ frameStart: 0, frameEnd: 19, chunking: shotsMode(), shots: [{ start: 5, end: 2 }] }, "chunking.shotList: shot 0 (5..2) is not a frame range");
  });

  it("refuses a bad range, shots mode without shots and a range over the job limit", () => {
    assert.throws(() => planChunks({ frameStart: 5, frameEnd: 4, chunking: fixed(8) }), /planner: frame range 5\.\.4 is not a range/);
    assert.throws(() => planChunks({ frameStart: 0, frameEnd: 4, chunking: shotsMode() }), /needs the shots/);
    assert.throws(() => planChunks({ frameStart: 0, frameEnd: 1_000_000, chunking: fixed(8) }), BadInputError);
  });
});

describe("planChunks: invariants over many plans", () => {
  it("writes every frame once, in order, with context inside the shot", () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const frameStart = random(50);
      const frameEnd = frameStart + random(200);
      const cuts = [...new Set(Array.from({ length: random(6) }, () => random(259) + 1))].sort((a, b) => a - b);
      const shots = [0, ...cuts].map((start, i) => ({ start, end: (cuts[i] ?? 260) - 1 }));
      const modes: Chunking[] = [
        fixed(1 + random(30)),
        shotsMode(random(2) === 0 ? null : 1 + random(40)),
        { mode: "adaptive", targetSeconds: 1 + random(60), minSize: 1 + random(8), maxSize: 9 + random(40) },
      ];
      const chunking = modes[random(3)] ?? fixed(8);
      const window = 3 + 2 * random(4);
      const useShots = chunking.mode === "shots" || random(2) === 0;
      const plan = planChunks({
        frameStart,
        frameEnd,
        chunking,
        ...(useShots ? { shots } : {}),
        temporal: { window },
        agentSpeeds: [{ agentId: "a", framesPerSecond: 0.5 + random(10) }],
      });
      let next = frameStart;
      plan.forEach((c, i) => {
        assert.equal(c.index, i);
        assert.equal(c.frameStart, next);
        assert.ok(c.frameEnd >= c.frameStart);
        const shot = useShots ? shots[c.shot ?? -1] : { start: frameStart, end: frameEnd };
        assert.ok(shot !== undefined);
        assert.ok(c.frameStart >= shot.start && c.frameEnd <= shot.end, "a chunk writes frames of one shot");
        assert.equal(c.contextStart, Math.max(c.frameStart - (window - 1) / 2, shot.start));
        assert.equal(c.contextEnd, Math.min(c.frameEnd + (window - 1) / 2, shot.end));
        if (chunking.mode === "fixed") assert.ok(c.frameEnd - c.frameStart + 1 <= chunking.size);
        if (chunking.mode !== "fixed" && chunking.maxSize !== null) assert.ok(c.frameEnd - c.frameStart + 1 <= chunking.maxSize);
        next = c.frameEnd + 1;
      });
      assert.equal(next, frameEnd + 1, "the plan covers the whole range");
    }
  });
});
