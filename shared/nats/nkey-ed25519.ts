import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { nkeys, type Authenticator } from "@nats-io/nats-core";
import { base32Decode, base32Encode } from "../base32.ts";

/**
 * NATS nkeys (ed25519 keys in NATS's text form: "SU..." seeds, "U..." users,
 * "A..." accounts, "O..." operators) with node:crypto (OpenSSL) doing the
 * curve math. nkeys.js does it in JavaScript (tweetnacl) and derives the key
 * pair from the seed again in every getPublicKey, getPrivateKey and sign: one
 * agent's user JWT took about 30 ms of CPU, its enrolment and join about
 * 100 ms in all, most of the coordinator's start-up with many agents.
 *
 * ed25519 signatures are deterministic (RFC 8032), so these sign the same
 * bytes as nkeys.js, and the texts are the same (test/unit/nkey-ed25519.test.ts
 * checks both against nkeys.js). Seeds are still validated by nkeys.js
 * (fromSeed: base32, prefix, checksum). The objects are nkeys.js KeyPairs, so
 * @nats-io/jwt signs with them unchanged.
 */

/** The nkey roles nightshift uses, by their prefix byte (nkeys.js Prefix). */
export type NkeyRole = "user" | "account" | "operator";
const ROLE_PREFIX: Record<NkeyRole, number> = { user: nkeys.Prefix.User, account: nkeys.Prefix.Account, operator: nkeys.Prefix.Operator };

type KeyPair = nkeys.KeyPair;

/** PKCS#8 DER of an ed25519 private key, less its 32 bytes of seed (RFC 8410). */
const PKCS8_ED25519_HEAD = Buffer.from("302e020100300506032b657004220420", "hex");

/** A fresh random key of `role`. */
export function createNkey(role: NkeyRole): KeyPair {
  const raw = randomBytes(32);
  const seed = encode([nkeys.Prefix.Seed | (ROLE_PREFIX[role] >> 5), (ROLE_PREFIX[role] & 31) << 3], raw);
  return nkeyFromSeed(seed);
}

/** The key pair of an nkey seed ("S..."); throws nkeys.js's NKeysError for a malformed one. */
export function nkeyFromSeed(seed: string | Uint8Array): KeyPair {
  const text = typeof seed === "string" ? seed : new TextDecoder().decode(seed);
  nkeys.fromSeed(new TextEncoder().encode(text)); // validates: base32, seed prefix, role, checksum
  const bytes = base32Decode(text) as Uint8Array; // valid, as nkeys.js just said
  const role = ((bytes[0] as number) & 7) << 5 | ((bytes[1] as number) >> 3);
  return new NodeNkey(text, role, bytes.subarray(2, 34));
}

/** The public key ("U...", "A...") of a seed, or undefined when the text is not a valid seed. */
export function publicKeyOfSeed(seed: string): string | undefined {
  try {
    return nkeyFromSeed(seed).getPublicKey();
  } catch {
    return undefined;
  }
}

/**
 * nats-core's jwtAuthenticator(jwt, seed), the nonce signed by node:crypto:
 * the same answer to the server's challenge (nkey, base64url signature, JWT).
 */
export function nkeyJwtAuthenticator(jwt: string, seed: string): Authenticator {
  const pair = nkeyFromSeed(seed);
  return (nonce?: string) => ({
    jwt,
    nkey: pair.getPublicKey(),
    sig: nonce ? nkeys.encode(pair.sign(new TextEncoder().encode(nonce))) : "",
  });
}

class NodeNkey implements KeyPair {
  private readonly privateKey: KeyObject;
  private readonly publicKey: string;
  private readonly rawPublic: Buffer;
  private seedText: string | undefined;

  constructor(seed: string, role: number, rawSeed: Uint8Array) {
    this.seedText = seed;
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_HEAD, rawSeed]), format: "der", type: "pkcs8" });
    const jwk = createPublicKey(this.privateKey).export({ format: "jwk" });
    this.rawPublic = Buffer.from(jwk.x as string, "base64url");
    this.publicKey = encode([role], this.rawPublic);
  }

  getPublicKey(): string {
    return this.publicKey;
  }

  /** nkeys.js's "P..." text: the 64-byte secret key (seed then public key). */
  getPrivateKey(): Uint8Array {
    const seed = this.rawSeed();
    return new TextEncoder().encode(encode([nkeys.Prefix.Private], Buffer.concat([seed, this.rawPublic])));
  }

  getSeed(): Uint8Array {
    return new TextEncoder().encode(this.liveSeed());
  }

  sign(input: Uint8Array): Uint8Array {
    this.liveSeed();
    return new Uint8Array(sign(null, input, this.privateKey));
  }

  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return verify(null, input, createPublicKey(this.privateKey), sig);
  }

  clear(): void {
    this.seedText = undefined;
  }

  seal(): Uint8Array {
    throw new nkeys.NKeysError(nkeys.NKeysErrorCode.InvalidNKeyOperation);
  }

  open(): Uint8Array | null {
    throw new nkeys.NKeysError(nkeys.NKeysErrorCode.InvalidNKeyOperation);
  }

  private liveSeed(): string {
    if (this.seedText === undefined) throw new nkeys.NKeysError(nkeys.NKeysErrorCode.ClearedPair);
    return this.seedText;
  }

  private rawSeed(): Uint8Array {
    return (base32Decode(this.liveSeed()) as Uint8Array).subarray(2, 34);
  }
}

/** nkeys.js's text form: prefix bytes, payload, CRC-16 (little endian), in upper-case base32 without padding. */
function encode(prefix: readonly number[], payload: Uint8Array): string {
  const raw = new Uint8Array(prefix.length + payload.length + 2);
  raw.set(prefix);
  raw.set(payload, prefix.length);
  const crc = crc16(raw.subarray(0, raw.length - 2));
  raw[raw.length - 2] = crc & 0xff;
  raw[raw.length - 1] = crc >> 8;
  return base32Encode(raw).toUpperCase();
}

/** CRC-16/XMODEM (polynomial 0x1021, initial 0): the nkey checksum. */
function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
