import { BadInputError } from "../../shared/errors.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { openOnnxSession, runModelOnWindow } from "./onnx-session.ts";
import { providerNeeds } from "./onnx-providers.ts";

/** The model the check runs: bundled with nightshift (models/), a few kilobytes. */
const CHECK_MODEL = "colour-grade";

/**
 * At agent start, when its admin named GPU providers: opens the bundled
 * colour-grade model with exactly those providers and runs one small frame,
 * so a provider that cannot start stops the agent with a clear error instead
 * of failing every model chunk it takes. `field` names the flag or config key.
 */
export async function checkOnnxProviders(providers: readonly string[], modelsDir: string, field: string): Promise<void> {
  const { manifest, modelPath } = await resolveModel(modelsDir, CHECK_MODEL, { verify: true });
  let session;
  try {
    session = await openOnnxSession(modelPath, manifest, { executionProviders: [...providers] });
    const frame = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(128) };
    await runModelOnWindow(session, manifest, [frame]);
  } catch (err) {
    const gpu = providers.find((p) => p !== "cpu") ?? providers[0] ?? "cpu";
    throw new BadInputError(`${field}: execution providers [${providers.join(", ")}] could not run ${CHECK_MODEL}: ${providerNeeds(gpu)}. onnxruntime said: ${onnxruntimeSaid(err)}`, {
      field,
      cause: err,
    });
  } finally {
    await session?.release();
  }
}

/** onnxruntime's own first line from a session that would not open (openOnnxSession wraps it in a BadInputError). */
export function onnxruntimeSaid(err: unknown): string {
  const text = err instanceof BadInputError && err.cause instanceof Error ? err.cause.message : (err as Error).message;
  const line = text.split("\n").find((l) => l.trim() !== "") ?? text;
  return line.trim().slice(0, 400);
}
