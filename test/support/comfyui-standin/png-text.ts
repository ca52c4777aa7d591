import { crc32 } from "node:zlib";
import { encodePng } from "../../../shared/media/png-codec.ts";
import type { RgbFrame } from "../../../shared/media/rgb-frame.ts";

/**
 * PNG text chunks for the ComfyUI stand-in and its tests. ComfyUI's SaveImage
 * writes one tEXt chunk per key through Pillow's PngInfo.add_text: `prompt`
 * (the API-format graph, json.dumps) and one per extra_pnginfo key (`workflow`
 * from the UI, and here nightshift's provenance), Latin-1 keyword, NUL,
 * Latin-1 text, before the image data. pngjs cannot write text chunks, so the
 * stand-in encodes pixels with the project's codec and splices them in.
 */

const SIGNATURE = 8;

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes `frame` as PNG with a tEXt chunk per entry, placed right after IHDR (where Pillow puts them). */
export function pngWithText(frame: RgbFrame, texts: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const png = Buffer.from(encodePng(frame));
  const ihdrEnd = SIGNATURE + 8 + png.readUInt32BE(SIGNATURE) + 4;
  const extra = texts.map(([k, v]) => chunk("tEXt", Buffer.concat([Buffer.from(k, "latin1"), Buffer.from([0]), Buffer.from(v, "latin1")])));
  return new Uint8Array(Buffer.concat([png.subarray(0, ihdrEnd), ...extra, png.subarray(ihdrEnd)]));
}

/** The tEXt chunks of a PNG, keyword -> text, in file order; throws on a truncated or non-PNG buffer. */
export function readPngText(bytes: Uint8Array): Map<string, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < SIGNATURE || buf.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  const out = new Map<string, string>();
  let at = SIGNATURE;
  while (at + 12 <= buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    if (at + 12 + len > buf.length) throw new Error(`PNG chunk ${type} runs past the end`);
    if (type === "tEXt") {
      const data = buf.subarray(at + 8, at + 8 + len);
      const nul = data.indexOf(0);
      out.set(data.toString("latin1", 0, nul), data.toString("latin1", nul + 1));
    }
    if (type === "IEND") break;
    at += 12 + len;
  }
  return out;
}
