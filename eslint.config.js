// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

/**
 * Top-level modules under src/. A module is entered only through its index.ts:
 * `src/ledger/chain.ts` may not be imported from `src/cli/`, only `src/ledger/index.ts`.
 * A new module adds a line here (docs/adr/0001-module-layout.md).
 */
const modules = [
  'auth',
  'cli',
  'core',
  'datastores',
  'demo',
  'drill',
  'init',
  'ledger',
  'notify',
  'process',
  'remote',
  'repo',
  'schedule',
  'server',
  'spec',
  'store',
  'validate',
  'workspace',
];

const boundaryZones = modules.map((name) => ({
  target: `./src/!(${name})/**/*`,
  from: `./src/${name}`,
  except: ['./index.ts'],
  message: `Import src/${name} through its index.ts, not a file inside it.`,
}));

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'shipshape-demo/',
      '.shipshape/',
      '.services/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            'eslint.config.js',
            'bin/*.js',
            'examples/demo/service/*.mjs',
            'test/process/fixtures/*.mjs',
            'test/drill/fixtures/*.mjs',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { import: importPlugin },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' } },
      // Lets import/no-cycle parse the TypeScript modules it follows.
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/extensions': ['.ts', '.js'],
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import/no-cycle': 'error',
      'import/no-restricted-paths': ['error', { zones: boundaryZones }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/dist/**'], message: 'Import sources, not build output.' }] },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node },
  },
  {
    // The published entry point runs the build output by design.
    files: ['bin/*.js'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
