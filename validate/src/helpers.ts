/**
 * Programs a tool starts on its own to do part of its job: `dpkg -l` is `dpkg-query --list`, `dpkg -b` is
 * `dpkg-deb --build`. They are found on PATH like any command, so they are part of what the command runs
 * and belong in its predicted `exec` (the soundness harness saw `dpkg -l` run dpkg-query unpredicted).
 * Over-predicting is harmless: effects are what may run.
 */
export const OWN_HELPERS: ReadonlyMap<string, readonly string[]> = new Map([
  // dpkg hands its query, archive and split actions to these front-ends (dpkg(1), "ACTIONS").
  ['dpkg', ['dpkg-query', 'dpkg-deb', 'dpkg-split']],
]);

/** The helper programs `name` may start by itself (empty for most tools). */
export function ownHelpers(name: string): readonly string[] {
  return OWN_HELPERS.get(name) ?? NO_HELPERS;
}

const NO_HELPERS: readonly string[] = [];
