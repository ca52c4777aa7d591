/**
 * Small JPEG previews of finished frames and a contact sheet of a whole job,
 * made with sharp and cached under `<data-dir>/thumbnails`, so a browser never
 * receives a full frame. A cached file is keyed by the frame file's size and
 * mtime: a re-rendered frame gets a new thumbnail.
 */
import { mkdirSync, statSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type sharpModule from "sharp";

const THUMB_WIDTH = 256;
const SHEET_COLUMNS = 8;
const SHEET_CELL = 160;
/** A contact sheet shows at most this many frames, evenly spaced over the job. */
const SHEET_MAX = 64;

export class Thumbnails {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A thumbnail of the frame file at `path` (JPEG bytes). */
  async frame(jobId: string, frame: number, path: string): Promise<Buffer> {
    const st = statSync(path);
    const file = join(this.dir, `${safe(jobId)}-${frame}-${st.size}-${Math.floor(st.mtimeMs)}.jpg`);
    return cached(file, async () => (await loadSharp())(path).resize({ width: THUMB_WIDTH, withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer());
  }

  /** A grid of the job's finished frames (at most SHEET_MAX, evenly spaced); `frames` are [number, path] in frame order. */
  async contactSheet(jobId: string, frames: Array<[number, string]>): Promise<Buffer> {
    const step = Math.max(1, Math.ceil(frames.length / SHEET_MAX));
    const shown = frames.filter((_, i) => i % step === 0).slice(0, SHEET_MAX);
    const last = shown.at(-1);
    const key = `${shown.length}-${last ? `${last[0]}-${Math.floor(statSync(last[1]).mtimeMs)}` : "empty"}`;
    const file = join(this.dir, `${safe(jobId)}-sheet-${key}.jpg`);
    return cached(file, async () => {
      const rows = Math.max(1, Math.ceil(shown.length / SHEET_COLUMNS));
      const sharp = await loadSharp();
      const cells = await Promise.all(
        shown.map(([, path]) => sharp(path).resize({ width: SHEET_CELL, height: SHEET_CELL, fit: "contain", background: "#111" }).png().toBuffer()),
      );
      return sharp({ create: { width: SHEET_COLUMNS * SHEET_CELL, height: rows * SHEET_CELL, channels: 3, background: "#111" } })
        .composite(cells.map((input, i) => ({ input, left: (i % SHEET_COLUMNS) * SHEET_CELL, top: Math.floor(i / SHEET_COLUMNS) * SHEET_CELL })))
        .jpeg({ quality: 75 })
        .toBuffer();
    });
  }
}

/**
 * sharp, loaded at the first thumbnail: importing it costs about 0.3 s of CPU, which every coordinator start
 * (a restart after a crash included) paid before it could listen.
 */
let loaded: Promise<typeof sharpModule> | undefined;
function loadSharp(): Promise<typeof sharpModule> {
  loaded ??= import("sharp").then((m) => m.default);
  return loaded;
}

const safe = (id: string): string => id.replace(/[^A-Za-z0-9._-]/g, "_");

async function cached(file: string, make: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch {
    const data = await make();
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
    return data;
  }
}
