// Why this file exists: the docs tests check the agent config examples (the README's, deploy/'s) as
// `nightshift agent --config` reads them: the file's schema first (no unknown key, each key's type), then
// each value through the parser the agent compiles it with at start.
import YAML from "yaml";
import { parseAgentFile, type AgentFile } from "../../agent/config/agent-file-schema.ts";
import { parseCacheSize } from "../../agent/assets/cache-size.ts";
import { agentLimits } from "../../agent/config/agent-limits.ts";
import { parseOnnxProviders } from "../../agent/executors/onnx-providers.ts";

/** An example's text compiled as the agent would; throws (BadInputError) naming `where` and the key otherwise. */
export function compileAgentConfigExample(text: string, where: string): AgentFile {
  const raw: unknown = YAML.parse(text);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${where}: expected a mapping at the top level`);
  const file = parseAgentFile(raw as Record<string, unknown>, where);
  parseCacheSize(file.cacheSize);
  agentLimits({}, file, {});
  if (file.onnxProviders !== undefined) parseOnnxProviders(file.onnxProviders, "onnxProviders");
  return file;
}

/** The example with its commented-out `# key: value` lines (a key at the top level) taken in. */
export function uncommentKeys(text: string): string {
  return text.replace(/^# ([A-Za-z]+: )/gm, "$1");
}
