import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { exportPrivateKey, exportPublicKey, generateSigningKey, importPrivateKey, keyId } from '@airlock/trust';

/** The harness's signing key: loaded from `file`, or made there (mode 0600) on first start. */
export function loadOrCreateSigningKey(file: string, publicFile = `${file}.pub`): { privateKey: KeyObject; publicKeyRaw: string; keyId: string } {
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = importPrivateKey(readFileSync(file, 'utf8'));
  } else {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    privateKey = generateSigningKey().privateKey;
    writeFileSync(file, exportPrivateKey(privateKey), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const publicKeyRaw = exportPublicKey(privateKey, 'raw');
  // Runners read this (it is public); they are configured with it, never sent it over NATS.
  mkdirSync(dirname(publicFile), { recursive: true });
  writeFileSync(publicFile, publicKeyRaw + '\n', { mode: 0o644 });
  return { privateKey, publicKeyRaw, keyId: keyId(privateKey) };
}
