import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseCsvShotList, parseEdlShotList, parseShotList } from "../../coordinator/planner/shot-list.ts";
import { timecodeToFrame } from "../../coordinator/planner/timecode.ts";
import { BadInputError } from "../../shared/errors.ts";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/shots/${name}`, import.meta.url)), "utf8");

const EP03 = [
  { start: 0, end: 47 },
  { start: 48, end: 119 },
  { start: 120, end: 120 },
  { start: 121, end: 199 },
];

function refusedList(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError, String(err));
    assert.equal(err.message, message);
    assert.equal(err.field, "chunking.shotList");
    return true;
  });
}

describe("timecodeToFrame", () => {
  it("counts frames at the nominal rate", () => {
    assert.deepEqual(timecodeToFrame("00:00:01:00", 24), { ok: true, frame: 24 });
    assert.deepEqual(timecodeToFrame("01:00:00:00", 24), { ok: true, frame: 86400 });
    assert.deepEqual(timecodeToFrame("00:00:02:12", 23.976), { ok: true, frame: 60 });
    assert.deepEqual(timecodeToFrame("00:01:00:29", 29.97), { ok: true, frame: 1829 });
  });

  it("refuses drop-frame, bad frames and missing fps", () => {
    assert.equal(timecodeToFrame("00:00:01;00", 29.97).ok, false);
    assert.deepEqual(timecodeToFrame("00:00:01:24", 24), { ok: false, problem: "'00:00:01:24' has frame 24, but a second has only 24 frames at 24 fps" });
    assert.equal(timecodeToFrame("00:61:00:00", 24).ok, false);
    assert.deepEqual(timecodeToFrame("00:00:01:00", Number.NaN), { ok: false, problem: "timecode '00:00:01:00' needs the frame rate (fps)" });
  });
});

describe("CSV shot lists", () => {
  it("reads frame numbers with a header and extra columns", () => {
    assert.deepEqual(parseCsvShotList(fixture("ep03.csv")), EP03);
  });

  it("reads timecodes (end inclusive) with comments and no header", () => {
    assert.deepEqual(parseCsvShotList(fixture("ep03-timecode.csv"), { fps: 24 }), EP03);
  });

  it("finds start and end columns by name, sorts, and accepts CRLF and quotes", () => {
    const text = 'name,"Out","In"\r\nb,99,50\r\n\r\na,49,0\r\n';
    assert.deepEqual(parseCsvShotList(text), [
      { start: 0, end: 49 },
      { start: 50, end: 99 },
    ]);
  });

  it("names the file and line of each problem", () => {
    refusedList(() => parseCsvShotList(fixture("bad-overlap.csv"), { source: "bad-overlap.csv" }), "bad-overlap.csv:2: shot 40..99 overlaps the shot on line 1 (0..47)");
    refusedList(() => parseCsvShotList("0,10\n20,15\n", { source: "s.csv" }), "s.csv:2: end 15 is before start 20");
    refusedList(() => parseCsvShotList("0,10\n11\n", { source: "s.csv" }), "s.csv:2: needs a start and an end frame");
    refusedList(() => parseCsvShotList("0,10\n11,x\n"), "shot list:2: 'x' is not a frame number or a timecode HH:MM:SS:FF");
    refusedList(() => parseCsvShotList("shot,length\n1,2\n"), "shot list:1: is neither a shot (start,end) nor a header naming start and end columns (got 'shot,length')");
    refusedList(() => parseCsvShotList("00:00:00:00,00:00:01:00\n"), "shot list:1: timecode '00:00:00:00' needs the frame rate (fps)");
    refusedList(() => parseCsvShotList("# only a comment\n", { source: "e.csv" }), "e.csv: lists no shots");
  });
});

describe("EDL shot lists", () => {
  it("turns video events' record in/out into shots, skipping audio and zero-length events", () => {
    assert.deepEqual(parseEdlShotList(fixture("ep03.edl"), { fps: 24 }), [
      { start: 0, end: 47 },
      { start: 48, end: 119 },
      { start: 120, end: 155 },
      { start: 156, end: 235 },
    ]);
  });

  it("counts from an explicit record start", () => {
    const shots = parseEdlShotList(fixture("ep03.edl"), { fps: 24, recordStart: "00:59:59:00" });
    assert.deepEqual(shots[0], { start: 24, end: 71 });
  });

  it("is chosen by the .edl extension", () => {
    assert.deepEqual(parseShotList(fixture("ep03.edl"), { fps: 24, source: "shots/EP03.EDL" })[3], { start: 156, end: 235 });
    assert.deepEqual(parseShotList(fixture("ep03.csv"), { source: "ep03.csv" }), EP03);
  });

  it("names the line of each problem", () => {
    const event = (n: string, recIn: string, recOut: string) => `${n}  AX V C 00:00:00:00 00:00:01:00 ${recIn} ${recOut}`;
    refusedList(() => parseEdlShotList("TITLE: x\nFCM: DROP FRAME\n", { fps: 29.97, source: "a.edl" }), "a.edl:2: drop-frame EDLs are not supported; export non-drop-frame timecode");
    refusedList(() => parseEdlShotList(`TITLE: x\n001 AX V C 00:00:00:00\n`, { fps: 24 }), "shot list:2: an event line needs reel, track, transition and four timecodes (source in/out, record in/out)");
    refusedList(
      () => parseEdlShotList([event("001", "01:00:00:00", "01:00:02:00"), event("002", "01:00:01:00", "01:00:03:00")].join("\n"), { fps: 24, source: "o.edl" }),
      "o.edl:2: shot 24..71 overlaps the shot on line 1 (0..47)",
    );
    refusedList(() => parseEdlShotList(event("001", "01:00:02:00", "01:00:01:00"), { fps: 24, source: "r.edl" }), "r.edl:1: record out is before record in");
    refusedList(() => parseEdlShotList(event("001", "01:00:00:00", "01:00:01:00")), "shot list:1: timecode '01:00:00:00' needs the frame rate (fps)");
    refusedList(() => parseEdlShotList("TITLE: empty\n", { fps: 24, source: "e.edl" }), "e.edl: lists no shots");
    refusedList(
      () => parseEdlShotList(event("001", "01:00:00:00", "01:00:01:00"), { fps: 24, source: "s.edl", recordStart: "01:00:00:12" }),
      "s.edl:1: record in is before the record start 01:00:00:12",
    );
  });
});
