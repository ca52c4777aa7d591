/**
 * A chunk attempt's tool output (Blender's stdout, a command's stderr), kept
 * to the first and last part when it grows past its cap, so that both the
 * command line echo and the final error line survive.
 */
export class BoundedLog {
  private head = "";
  private tail = "";
  private dropped = 0;

  constructor(private readonly capBytes = 64 * 1024) {}

  append(text: string): void {
    const half = this.capBytes / 2;
    if (this.head.length < half) {
      const take = text.slice(0, half - this.head.length);
      this.head += take;
      text = text.slice(take.length);
    }
    if (text.length === 0) return;
    this.tail += text;
    if (this.tail.length > half) {
      this.dropped += this.tail.length - half;
      this.tail = this.tail.slice(this.tail.length - half);
    }
  }

  text(): string {
    return this.dropped > 0 ? `${this.head}\n[... ${this.dropped} characters left out ...]\n${this.tail}` : this.head + this.tail;
  }

  get empty(): boolean {
    return this.head.length === 0;
  }
}
