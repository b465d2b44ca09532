import { describe, expect, it } from 'vitest';
import { AirlockError } from '@airlock/proto';
import { Redactor } from '@airlock/trust';
import { SecretStore, envSecrets } from './store.ts';

const grants = [{ name: 'PIN' }, { name: 'TOKEN' }];

describe('granting secrets', () => {
  it('refuses a secret too short to redact, with a typed error naming it', () => {
    const store = new SecretStore([envSecrets({ AIRLOCK_SECRET_PIN: 'abc', AIRLOCK_SECRET_TOKEN: 'long-enough-token' })]);
    // The redactor would let this value through unredacted: that is why it must never be granted.
    expect(new Redactor({ PIN: 'abc' }).ignored).toEqual([{ name: 'PIN', reason: 'too_short', length: 3 }]);
    let err: unknown;
    try {
      store.resolve({ P: '${secret:PIN}' }, grants, ['echo']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('secret_denied');
    expect((err as AirlockError).message).toMatch(/PIN is 3 characters long, too short to redact/);
    expect((err as AirlockError).data).toMatchObject({ secret: 'PIN', reason: 'too_short', length: 3, minLength: 4 });
    // Characters, not bytes: four code points are enough even if they are multi-byte.
    expect(() => new SecretStore([envSecrets({ AIRLOCK_SECRET_PIN: 'ééé' })]).resolve({ P: '${secret:PIN}' }, grants, [])).toThrow(/too short/);
    expect(new SecretStore([envSecrets({ AIRLOCK_SECRET_PIN: 'éééé' })]).resolve({ P: '${secret:PIN}' }, grants, []).secrets).toEqual({ P: 'éééé' });
    expect(store.resolve({ T: '${secret:TOKEN}' }, grants, ['echo']).secrets).toEqual({ T: 'long-enough-token' });
  });
});
