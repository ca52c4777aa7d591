/**
 * Writes models/colour-grade.onnx and models/colour-grade.manifest.json.
 * Usage: npx tsx models/build-colour-grade.ts [outDir]   (default: models/)
 * Reproducible: the same source gives the same bytes.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildColourGrade, COLOUR_GRADE_FILE, COLOUR_GRADE_NAME } from "./colour-grade-model.ts";

const outDir = resolve(process.argv[2] ?? dirname(fileURLToPath(import.meta.url)));
const built = buildColourGrade();
await mkdir(outDir, { recursive: true });
const modelPath = join(outDir, COLOUR_GRADE_FILE);
const manifestPath = join(outDir, `${COLOUR_GRADE_NAME}.manifest.json`);
await writeFile(modelPath, built.onnx);
await writeFile(manifestPath, `${JSON.stringify(built.manifest, null, 2)}\n`);
process.stdout.write(`${modelPath} (${built.onnx.length} bytes, sha256 ${built.manifest.sha256})\n${manifestPath}\n`);
