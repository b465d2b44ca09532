import { describe, expect, it } from 'vitest';
import { jwtLoginOf } from './nats-login.ts';

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJYIn0.c2lnbmF0dXJl-_x';
const SEED = `SUA${'B'.repeat(55)}`;

describe('an operator-mode login in a URL', () => {
  it('is a user JWT with a user nkey seed', () => {
    expect(jwtLoginOf(JWT, SEED)).toEqual({ jwt: JWT, seed: SEED });
  });

  it('is never a user and password pair, nor half of one', () => {
    expect(jwtLoginOf('client', 'hunter2')).toBeUndefined();
    expect(jwtLoginOf(JWT, undefined)).toBeUndefined();
    expect(jwtLoginOf(undefined, SEED)).toBeUndefined();
    expect(jwtLoginOf(JWT, 'hunter2')).toBeUndefined();
    // An account or operator seed is not a user's login.
    expect(jwtLoginOf(JWT, `SAA${'B'.repeat(55)}`)).toBeUndefined();
    expect(jwtLoginOf('eyJnot-a-jwt', SEED)).toBeUndefined();
  });
});
