import tseslint from 'typescript-eslint';
import berth from './build/lint/folder-imports.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'renderer/dist/**', 'out/**', 'tests/fixtures/lint/**'] },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.cts', '**/*.mts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { berth, '@typescript-eslint': tseslint.plugin },
    rules: {
      'berth/folder-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
    },
  },
);
