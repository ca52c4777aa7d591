import { randomInt } from "node:crypto";

/**
 * Why this file exists: an agent that held a frame's pixels before encoding
 * it sends their sha256 with the frame (FrameData.pixels_sha256), so the
 * coordinator need not decode every PNG for its provenance (the decode was
 * nearly all of provenance's cost). The coordinator signs the record, so it
 * must not pass an agent's word off as its own: the record says who computed
 * the hash (`pixels.by`), and the coordinator checks claims by decoding
 * anyway: each agent's first claim it sees (an agent whose hashes are wrong
 * every time is caught on its first upload) and, after that, a random share
 * of them (crypto randomness, so an agent cannot tell which). A claim that
 * does not hold refuses the upload, and that agent's next claim is checked
 * again. This class only decides which claims to check.
 */
export class PixelClaimSampler {
  /** Agents whose first claim was taken for a check (and did not fail). */
  private readonly seen = new Set<string>();

  /**
   * @param rate share of an agent's claims checked after its first, 0..1
   * @param random uniform in [0, 1); crypto-backed unless a test injects one
   */
  constructor(
    private readonly rate: number,
    private readonly random: () => number = cryptoUniform,
  ) {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`pixel claim check rate ${rate} is outside 0..1`);
  }

  /** Whether this claim of `agentId` is to be checked by decoding the frame. */
  shouldCheck(agentId: string): boolean {
    if (!this.seen.has(agentId)) {
      this.seen.add(agentId);
      return true;
    }
    return this.random() < this.rate;
  }

  /** A checked claim did not hold: that agent's next claim is checked again. */
  failed(agentId: string): void {
    this.seen.delete(agentId);
  }
}

/** Default share of an agent's claims checked after its first: on average about 0.2 ms a 320x180 frame. */
export const DEFAULT_PIXEL_CLAIM_CHECK_RATE = 1 / 32;

const SCALE = 2 ** 32;
function cryptoUniform(): number {
  return randomInt(0, SCALE) / SCALE;
}
