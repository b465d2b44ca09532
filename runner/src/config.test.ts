import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

const base = { AIRLOCK_HARNESS_KEY: 'k' };

describe('loadConfig deploymentId', () => {
  it('comes from --deployment-id or AIRLOCK_DEPLOYMENT_ID, else is left to the harness', () => {
    expect(loadConfig(['--deployment-id', 'prod-1'], base)).toMatchObject({ deploymentId: 'prod-1' });
    expect(loadConfig([], { ...base, AIRLOCK_DEPLOYMENT_ID: 'stage' })).toMatchObject({ deploymentId: 'stage' });
    const dflt = loadConfig([], base);
    expect(dflt !== 'help' && dflt.deploymentId).toBeUndefined();
    expect(() => loadConfig(['--deployment-id', 'bad id!'], base)).toThrow();
  });
});
