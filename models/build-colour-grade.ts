/**
 * Writes the demo models and their manifests: colour-grade (per frame) and
 * temporal-mean (a temporal step's model).
 * Usage: npx tsx models/build-colour-grade.ts [outDir]   (default: models/)
 * Reproducible: the same source gives the same bytes.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildColourGrade, COLOUR_GRADE_FILE, COLOUR_GRADE_NAME } from "./colour-grade-model.ts";
import { buildTemporalMean, TEMPORAL_MEAN_FILE, TEMPORAL_MEAN_NAME } from "./temporal-mean-model.ts";

const outDir = resolve(process.argv[2] ?? dirname(fileURLToPath(import.meta.url)));
await mkdir(outDir, { recursive: true });
for (const [built, file, name] of [
  [buildColourGrade(), COLOUR_GRADE_FILE, COLOUR_GRADE_NAME],
  [buildTemporalMean(), TEMPORAL_MEAN_FILE, TEMPORAL_MEAN_NAME],
] as const) {
  const modelPath = join(outDir, file);
  const manifestPath = join(outDir, `${name}.manifest.json`);
  await writeFile(modelPath, built.onnx);
  await writeFile(manifestPath, `${JSON.stringify(built.manifest, null, 2)}\n`);
  process.stdout.write(`${modelPath} (${built.onnx.length} bytes, sha256 ${built.manifest.sha256})\n${manifestPath}\n`);
}
