// Lint rules: type-checked promise rules everywhere, and a pure core (see ../shared/STYLE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:http', 'node:https',
  'fs', 'fs/promises', 'child_process', 'execa', 'express', '@google-cloud/storage',
].map((name) => ({ name, message: 'pure modules (src/image, src/layers) take data and return data: no I/O' }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Every promise is awaited or deliberately owned: `void` is not a way out.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['src/image/**/*.ts', 'src/layers/**/*.ts', 'src/sbom/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ioModules }] },
  },
);
