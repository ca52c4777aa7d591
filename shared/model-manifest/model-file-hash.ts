import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { BadInputError } from "../errors.ts";

/** sha256 of a file, lower-case hex, streamed (models can be gigabytes). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** sha256 of bytes in memory, lower-case hex. */
export function sha256Bytes(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Refuses a model file whose bytes are not the ones its manifest names.
 * Errors are BadInputError naming the file.
 */
export async function verifyModelFile(modelPath: string, expectedSha256: string): Promise<void> {
  let actual: string;
  try {
    actual = await sha256File(modelPath);
  } catch (err) {
    throw new BadInputError(`${modelPath}: cannot read the model file`, { field: modelPath, cause: err });
  }
  if (actual !== expectedSha256) {
    throw new BadInputError(
      `${modelPath}: sha256 ${actual} does not match the manifest's ${expectedSha256}`,
      { field: modelPath },
    );
  }
}
