import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { BadInputError } from "../errors.ts";
import { MAX_JOB_FILE_BYTES } from "./job-spec-limits.ts";
import type { JobSpec } from "./job-spec-types.ts";
import { validateJobSpec } from "./validate-job-spec.ts";

/**
 * Reads a job file (.yaml, .yml or .json), parses it and validates it. Every
 * error is a BadInputError whose message starts with the file name;
 * validation errors keep the field path in `field`.
 */
export async function parseJobFile(file: string): Promise<JobSpec> {
  return validateJobFileText(await readJobFile(file), file);
}

/**
 * Reads and validates a job file, returning both the document as written (to
 * send on: the receiver validates it again) and the compiled spec.
 */
export async function readJobFileChecked(file: string): Promise<{ raw: unknown; spec: JobSpec }> {
  const text = await readJobFile(file);
  return { raw: parseJobText(text, file), spec: validateJobFileText(text, file) };
}

/** Parses and validates job file text; `file` names the format (by extension) and the errors. */
export function validateJobFileText(text: string, file: string): JobSpec {
  const raw = parseJobText(text, file);
  try {
    return validateJobSpec(raw);
  } catch (err) {
    if (err instanceof BadInputError) throw new BadInputError(`${file}: ${err.message}`, { field: err.field, cause: err });
    throw err;
  }
}

async function readJobFile(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new BadInputError(`${file}: not a file`, { field: file });
    if (info.size > MAX_JOB_FILE_BYTES) {
      throw new BadInputError(`${file}: ${info.size} bytes is too large for a job file (at most ${MAX_JOB_FILE_BYTES})`, { field: file });
    }
    return await readFile(file, "utf8");
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`${file}: cannot read the job file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      field: file,
      cause: err,
    });
  }
}

function parseJobText(text: string, file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === ".json") return JSON.parse(text) as unknown;
    if (ext === ".yaml" || ext === ".yml") return parseYaml(text, { prettyErrors: true, uniqueKeys: true }) as unknown;
  } catch (err) {
    const kind = ext === ".json" ? "JSON" : "YAML";
    const detail = err instanceof Error ? (err.message.split("\n")[0] ?? "").replace(/:$/, "") : String(err);
    throw new BadInputError(`${file}: not valid ${kind}: ${detail}`, { field: file, cause: err });
  }
  throw new BadInputError(`${file}: a job file must end in .yaml, .yml or .json`, { field: file });
}
