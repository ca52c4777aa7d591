// Why this file exists: the CLI maps this error to its exit code without loading SQLite (see cli/exit-codes.ts).

/** The store file exists but is not a usable SQLite database. Never start empty over it. */
export class CorruptStoreError extends Error {
  override readonly name = "CorruptStoreError";
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`store ${path} is corrupt or not a nightshift database: ${detail}; refusing to start (move it aside or restore a backup)`, options);
  }
}
