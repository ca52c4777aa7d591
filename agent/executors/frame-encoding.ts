import { encodePng } from "../../shared/media/png-codec.ts";
import { rgbPixelsSha256 } from "../../shared/provenance/pixel-hash.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";

/**
 * What an executor does to each output frame before it is uploaded: PNG
 * encoding (shared/media/png-codec: fixed options, so the same pixels give
 * the same bytes) and the sha256 of its RGB8 samples for the frame's
 * provenance. Shared by the encoder thread (frame-encoder-thread.ts) and the
 * calling thread's fallback (frame-encoder.ts), so both give the same bytes;
 * also the messages between the two.
 */
export interface EncodedPixels {
  data: Uint8Array;
  pixelsSha256?: string;
  /** Seconds spent encoding and hashing, on whichever thread did it. */
  seconds: number;
}

export function encodeRgbFrame(frame: RgbFrame, hash: boolean): EncodedPixels {
  const started = performance.now();
  const pixelsSha256 = hash ? rgbPixelsSha256(frame) : undefined;
  const data = encodePng(frame);
  return { data, ...(pixelsSha256 === undefined ? {} : { pixelsSha256 }), seconds: (performance.now() - started) / 1000 };
}

export type EncodeRequest = { type: "encode"; id: number; frame: RgbFrame; hash: boolean } | { type: "close" };

export type EncodeReply = { type: "encoded"; id: number; pixels: EncodedPixels } | { type: "failed"; id: number; name: string; message: string };
