// `npm run lint` (and `make test`, before vitest): type-aware rules for what tsc cannot see.
// Promises nobody awaits or handles are how a rejection escapes and kills a process (issue 11:
// chunker sends, the docker events stream, a TimeoutError during a NATS restart), so those
// rules are errors. Only rules that find bugs or keep imports erasable: no style rules here
// (a full recommended set would cost lint time in every `make test` for little).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.tools/**', 'proto/schemas/**', 'bench/results/**', '**/dist/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // One program for the whole repository (the root tsconfig includes every package):
        // faster than a program per package, and it sees across package boundaries.
        project: './tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
    },
  },
);
