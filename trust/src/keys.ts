import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { sha256Hex } from '@airlock/proto';
import { TrustError } from './errors.ts';

/** An ed25519 key pair. The private half stays in the harness; runners get only the public half. */
export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * A public key as a `KeyObject` (a private key is accepted too: its public half is used), PEM text
 * (`-----BEGIN PUBLIC KEY-----`, SPKI), or the 32 raw key bytes as base64/base64url text or bytes.
 */
export type PublicKeyInput = KeyObject | string | Uint8Array;

/** A private key as a `KeyObject` or PEM text (`-----BEGIN PRIVATE KEY-----`, PKCS#8). */
export type PrivateKeyInput = KeyObject | string;

/** Generates a fresh ed25519 signing key pair. */
export function generateSigningKey(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey };
}

/**
 * Parses a public key. Throws `TrustError('invalid_key')` for anything but an ed25519 key.
 */
export function importPublicKey(input: PublicKeyInput): KeyObject {
  let key: KeyObject;
  try {
    if (typeof input === 'string' && input.includes('-----BEGIN')) {
      key = createPublicKey(input);
    } else if (typeof input === 'string' || input instanceof Uint8Array) {
      const raw = typeof input === 'string' ? decodeRaw(input) : Buffer.from(input);
      if (raw.length !== 32) throw new Error(`a raw ed25519 public key is 32 bytes, not ${raw.length}`);
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    } else {
      key = input.type === 'private' ? createPublicKey(input) : input;
    }
  } catch (cause) {
    throw new TrustError('invalid_key', 'not a usable ed25519 public key (PEM, or 32 raw bytes as base64)', { cause });
  }
  assertEd25519(key, 'public');
  return key;
}

/** Parses a private key (PEM PKCS#8 or a `KeyObject`). Throws `TrustError('invalid_key')` for anything but ed25519. */
export function importPrivateKey(input: PrivateKeyInput): KeyObject {
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPrivateKey(input) : input;
  } catch (cause) {
    throw new TrustError('invalid_key', 'not a usable ed25519 private key (PEM PKCS#8)', { cause });
  }
  assertEd25519(key, 'private');
  return key;
}

/**
 * Exports a public key: `pem` (SPKI, the bundle format) or `raw` (the 32 key bytes, base64 —
 * short enough for an environment variable or a config line).
 */
export function exportPublicKey(key: PublicKeyInput, format: 'pem' | 'raw' = 'pem'): string {
  const k = importPublicKey(key);
  if (format === 'pem') return k.export({ format: 'pem', type: 'spki' }).toString();
  return rawPublicKey(k).toString('base64');
}

/** Exports a private key as PEM (PKCS#8). Treat the result as a secret. */
export function exportPrivateKey(key: PrivateKeyInput): string {
  return importPrivateKey(key).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * The key's fingerprint: SHA-256 of its 32 raw bytes, lower-case hex (64 characters). The same for
 * every encoding of one key; pin it where a verifier must trust exactly one harness.
 */
export function keyId(publicKey: PublicKeyInput): string {
  return sha256Hex(rawPublicKey(importPublicKey(publicKey)));
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(String(jwk.x), 'base64url');
}

function decodeRaw(text: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new Error('not base64');
  return Buffer.from(t.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
}

function assertEd25519(key: KeyObject, type: 'public' | 'private'): void {
  if (key.type !== type || key.asymmetricKeyType !== 'ed25519') {
    throw new TrustError('invalid_key', `expected an ed25519 ${type} key, got a ${key.asymmetricKeyType ?? 'symmetric'} ${key.type} key`);
  }
}
