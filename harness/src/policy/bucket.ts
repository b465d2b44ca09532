import { randomBytes } from 'node:crypto';
import type { KV, Kvm } from '@nats-io/kv';
import { canonicalJson, names } from '@airlock/proto';
import type { Validator } from '@airlock/validate';
import type { Logger } from '../logger.ts';

/**
 * Puts the harness's policy in the policies bucket under its hash (policies are content-addressed:
 * runners fetch the pinned one by hash and check the hash themselves), and makes sure the deployment
 * has an id.
 */
export async function publishPolicy(kvm: Kvm, validator: Validator, opts: { replicas: number; log: Logger }): Promise<void> {
  const policies = await kvm.create(names.policiesBucket, { history: 1, replicas: opts.replicas });
  await policies.put(validator.policyHash, canonicalJson(validator.policy));
  await ensureDeploymentId(policies, opts.log);
}

/**
 * The deployment id, chosen once by the first harness on this NATS and kept in the policies bucket
 * (which only the harness writes and every runner reads). `create` writes only when the key is
 * absent, so two harnesses starting together agree on one id.
 */
async function ensureDeploymentId(policies: KV, log: Logger): Promise<void> {
  const have = await policies.get(names.deploymentKey);
  if (have && have.operation === 'PUT' && have.length > 0) return;
  const id = randomBytes(8).toString('hex');
  try {
    await policies.create(names.deploymentKey, id);
    log.info({ deployment: id }, 'recorded a new deployment id');
  } catch (err) {
    // Another harness recorded one first: that one stands.
    const now = await policies.get(names.deploymentKey);
    if (!now || now.length === 0) throw err;
  }
}
