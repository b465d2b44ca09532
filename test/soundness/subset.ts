import type { CaseOptions } from './cases.ts';

/**
 * The fast subset `make test` runs (test/integration/soundness.test.ts): every hostile line, 200
 * benign lines and 2 variants per transformation, all picked by a fixed seed.
 */
export const SUBSET: CaseOptions = { benign: 200, variantsPerTransform: 2, seed: 'airlock-soundness-v1' };
