/**
 * Picks the line that says why Blender failed, from its console output, so a
 * failed chunk shows Blender's own words (`Error: Cannot read file '...': No
 * such file or directory`, `RuntimeError: boom` from a Python traceback,
 * `Error: Cannot render, no camera`). Blender often exits 0 after such an
 * error, so the executor cannot rely on the exit code alone. Pure.
 */
export class BlenderErrorLine {
  private first: string | null = null;
  private inTraceback = false;

  push(line: string): void {
    if (this.inTraceback) {
      // Traceback frames are indented; the exception line (`ValueError: ...`) is not.
      if (line === "" || /^\s/.test(line) || line.startsWith("Traceback")) return;
      this.inTraceback = false;
      this.keep(line.trim());
      return;
    }
    if (line.startsWith("Error: Python: Traceback")) {
      this.inTraceback = true;
      return;
    }
    if (line.startsWith("Error: ")) this.keep(line.trim());
  }

  /** The first error line seen, or null. */
  get line(): string | null {
    return this.first;
  }

  private keep(line: string): void {
    this.first ??= line;
  }
}
