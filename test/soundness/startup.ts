// The soundness sandbox's shell start-up files, for the chain's start-up model (validate/src/startup.ts): the
// default image's, plus what the soundness image adds (gawk's /etc/profile.d script) and the prepared home's
// ~/.bashrc and ~/.profile (their real content). test/integration/startup-model.test.ts checks it against the image.
import { SANDBOX_STARTUP, type StartupModel } from '@airlock/validate';
import { HOME_FILES } from './judge.ts';

/** What `/etc/profile.d/gawk.sh` runs: it only defines functions, each of which runs gawk when called. */
const GAWK_PROFILE = ['gawkpath_default', 'gawkpath_prepend', 'gawkpath_append', 'gawklibpath_default', 'gawklibpath_prepend', 'gawklibpath_append']
  .map((f) => `${f} () { gawk 'BEGIN {}'; }`)
  .join('\n');

export const HARNESS_STARTUP: StartupModel = {
  files: {
    ...SANDBOX_STARTUP.files,
    '/etc/profile.d/gawk.sh': GAWK_PROFILE,
    // gawk.csh is read by csh-style shells only (not installed); listed so the directory is complete.
    '/etc/profile.d/gawk.csh': "gawk 'BEGIN {}'",
    '~/.bashrc': HOME_FILES['.bashrc']!,
    '~/.profile': HOME_FILES['.profile']!,
  },
  sources: { ...SANDBOX_STARTUP.sources, '~/.profile': ['~/.bashrc'] },
  digests: { ...SANDBOX_STARTUP.digests, '/etc/profile.d/gawk.sh': '70621a3b586d3d523b020e76977633b444a70013ba50e1ea901a3a07a676f15f' },
};
