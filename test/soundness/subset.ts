import type { CaseOptions } from './cases.ts';

/**
 * The fast subset `make test` runs (test/integration/soundness.test.ts): every hostile line, 250
 * benign lines and 4 variants per transformation, all picked by a fixed seed.
 */
export const SUBSET: CaseOptions = { benign: 250, variantsPerTransform: 4, seed: 'airlock-soundness-v1' };
