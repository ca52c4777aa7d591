/**
 * What putting a provenance record into an EXR frame costs the sink, per
 * frame, against the sink's own work for the same frame without it, in one
 * run: `node --import tsx bench/exr-stamp.bench.ts [-- --rounds 15]`.
 *  - without: write the frame as received and fsync it (an unstamped frame);
 *  - with: what coordinator/provenance/exr-staging.ts does: strip any record,
 *    hash the pixel chunks and stage the file on arrival; at the commit read
 *    it back, put a 2 KB record in the header (offsets shifted), write it
 *    again and fsync it.
 * Signing the record is left out (the PNG path's figure applies: one ECDSA
 * P-256 signature, README "Provenance", Cost). The frame is a 1920x1080
 * half-float ZIP EXR that ffmpeg makes. Alternating order, medians.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stageExr, stampStagedExr } from "../coordinator/provenance/exr-staging.ts";
import { writeFileSyncLater } from "../coordinator/sink/durable-fs.ts";
import { findFfmpeg } from "../shared/media/ffmpeg-binaries.ts";
import { createHash } from "node:crypto";
import { median } from "./bench-cli.ts";

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1] ?? 15) || 15;
const ffmpeg = findFfmpeg();
if (ffmpeg === null) {
  console.log(JSON.stringify({ benchmark: "exr-stamp", skipped: "ffmpeg not installed" }));
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), "ns-exr-bench-"));
try {
  const src = join(dir, "src.exr");
  const made = spawnSync(ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=1", "-frames:v", "1", "-c:v", "exr", "-compression", "zip16", "-format", "half", src]);
  if (made.status !== 0) throw new Error(`ffmpeg could not write the EXR: ${made.stderr.toString()}`);
  const frame = readFileSync(src);
  const sha256 = createHash("sha256").update(frame).digest("hex");
  const record = JSON.stringify({ manifest: { note: "x".repeat(1300) }, signature: { value: "y".repeat(88), certificate: "z".repeat(600) } });
  const without: number[] = [];
  const withRecord: number[] = [];
  let n = 0;
  // The sink's own write of a frame that gets no record (writeFileSyncLater: write in line, fsync on the pool).
  const plain = async (): Promise<number> => {
    const path = join(dir, `p${n++}.exr`);
    const t0 = performance.now();
    await (await writeFileSyncLater(path, frame)).durable;
    return performance.now() - t0;
  };
  const stamped = async (): Promise<number> => {
    const path = join(dir, `s${n++}.exr`);
    const t0 = performance.now();
    stageExr(path, frame, sha256);
    await stampStagedExr(path, record).durable;
    return performance.now() - t0;
  };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      without.push(await plain());
      withRecord.push(await stamped());
    } else {
      withRecord.push(await stamped());
      without.push(await plain());
    }
  }
  const a = median(without);
  const b = median(withRecord);
  console.log(JSON.stringify({
    benchmark: "exr-stamp",
    frameBytes: frame.length,
    rounds,
    withoutMsPerFrame: Number(a.toFixed(2)),
    withMsPerFrame: Number(b.toFixed(2)),
    ratio: Number(((b - a) / a).toFixed(3)),
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
