// Why this file exists: the coordinator, the agent and `report --data-dir` read the same YAML/JSON config
// files; one reader gives one error for a missing or malformed file (exit 2, naming the file).
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { BadInputError } from "../shared/errors.ts";

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new BadInputError(`--config: cannot read ${path}: ${(err as Error).message}`, { field: "config", cause: err });
  }
  try {
    const parsed: unknown = YAML.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a mapping at the top level");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new BadInputError(`--config: ${path} is not valid YAML/JSON: ${(err as Error).message}`, { field: "config", cause: err });
  }
}
