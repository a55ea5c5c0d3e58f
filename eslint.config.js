// Lint rules that keep the pure core pure (see ../shared/STYLE.md).
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
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  {
    files: ['src/image/**/*.ts', 'src/layers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ioModules }] },
  },
);
