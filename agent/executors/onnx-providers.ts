import { BadInputError } from "../../shared/errors.ts";

/**
 * The onnxruntime execution providers an agent's admin may name, in order of
 * preference. "webgpu" is built into onnxruntime-node (1.30: Dawn over
 * Vulkan on Linux), so it needs nothing fetched, only a GPU whose driver
 * ships a Vulkan ICD and the Vulkan loader; "cuda" needs onnxruntime's CUDA
 * build and the CUDA/cuDNN libraries, which its installer downloads.
 */
export const ONNX_PROVIDERS = ["cpu", "webgpu", "cuda"] as const;
export type OnnxProvider = (typeof ONNX_PROVIDERS)[number];

/** What a provider needs, for the error that says why it did not start. */
export function providerNeeds(provider: string): string {
  if (provider === "webgpu") {
    return '"webgpu" (built into onnxruntime-node) needs a GPU whose driver has a Vulkan ICD and the Vulkan loader (Debian: libvulkan1; with glvnd: libglvnd0, libegl1)';
  }
  if (provider === "cuda") return '"cuda" needs onnxruntime-node\'s CUDA build and the CUDA/cuDNN libraries (deploy/README.md, step 1)';
  return `"${provider}" is not a provider nightshift knows`;
}

/**
 * Parses an admin's provider list ("webgpu,cpu"): known names, no repeats,
 * at least one. `field` names the flag or config key in the error.
 */
export function parseOnnxProviders(text: string, field: string): OnnxProvider[] {
  const names = text.split(",").map((p) => p.trim());
  if (names.length === 0 || names.some((p) => p === "")) {
    throw new BadInputError(`${field}: expected a comma-separated list of ${ONNX_PROVIDERS.join(", ")} (e.g. webgpu,cpu), got '${text}'`, { field });
  }
  const unknown = names.find((p) => !(ONNX_PROVIDERS as readonly string[]).includes(p));
  if (unknown !== undefined) throw new BadInputError(`${field}: unknown execution provider '${unknown}' (use ${ONNX_PROVIDERS.join(", ")})`, { field });
  const repeated = names.find((p, i) => names.indexOf(p) !== i);
  if (repeated !== undefined) throw new BadInputError(`${field}: '${repeated}' is named twice`, { field });
  return names as OnnxProvider[];
}

/** True when the list asks for more than the CPU, so the agent checks at start that the providers open. */
export function needsProviderCheck(providers: readonly string[]): boolean {
  return providers.some((p) => p !== "cpu");
}
