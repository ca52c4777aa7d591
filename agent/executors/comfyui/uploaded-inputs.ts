/**
 * What one ComfyUI server already holds in its input folder, by content: a
 * job's static input images (a reference, a mask) are uploaded under a name
 * derived from their sha256 with overwrite, so a name once uploaded keeps
 * standing for the same bytes and later chunks need not send them again.
 * The factory keeps one per ComfyUI server and hands it to every executor;
 * concurrent chunks wanting the same file share one upload. A failed upload
 * is not remembered; a name ComfyUI says is missing (it restarted on an empty
 * input folder, or someone cleaned it) is forgotten and uploaded again by the
 * executor.
 */
export class UploadedInputs {
  private readonly names = new Map<string, Promise<string>>();

  /** The name ComfyUI gave `key` (a content-derived file name), uploading it with `upload` unless it already holds it. */
  ensure(key: string, upload: () => Promise<string>): Promise<string> {
    const known = this.names.get(key);
    if (known !== undefined) return known;
    const pending = upload();
    this.names.set(key, pending);
    pending.catch(() => {
      if (this.names.get(key) === pending) this.names.delete(key);
    });
    return pending;
  }

  /** ComfyUI no longer holds `key`: the next ensure() uploads it again. */
  forget(key: string): void {
    this.names.delete(key);
  }

  /** How many files are remembered (for tests and logs). */
  get size(): number {
    return this.names.size;
  }
}
