import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Files that only tests and benches load: unit tests, conformance suites, end-to-end suites, benches and the
 * test face `testing/`. Everything else is product code and ships in `dist/` (tsconfig.build.json leaves
 * these out; scripts/check-build-files.mjs checks that nothing of them is pulled back in through an import).
 */
export const TEST_ONLY_FILES = ['testing/**', '**/testing.ts', '**/*.test.ts', '**/*.conformance.ts', '**/conformance-suite.ts', '**/*e2e-suite.ts', '**/*bench*.ts'];

const NO_JEST = { name: '@jest/globals', message: 'product code must not import Jest; tests, conformance suites and benches may.' };
const NO_TEST_FACE = { regex: '(^|/)testing(/|\\.js$|$)', message: 'product code must not import testing/ (the test face): it does not ship.' };
const NO_LAB = {
  regex: '(^|/)scenarios(/|$)',
  message: 'product rooms must not import scenarios/ (the lab builds on the product, not the other way round); a lab only tests use belongs in scenarios/.',
};

/** Product code never imports the test face or Jest (they would ship, and @jest/globals throws outside Jest). */
export const productImports = {
  files: ['**/*.ts'],
  ignores: TEST_ONLY_FILES,
  rules: { 'no-restricted-imports': ['error', { paths: [NO_JEST], patterns: [NO_TEST_FACE] }] },
};

/**
 * The lab is built on the product, never the other way round: the product rooms' own files never import scenarios/
 * (the lab, the chaos runner, the hand-built labs of the rooms' root tests). Their tests and benches may use the lab,
 * and so may the CLI (the composition root: `strait lab`, `strait scenario`). This block comes after productImports
 * and repeats its restrictions, because a later block's options for the same rule replace the earlier ones.
 */
export const PRODUCT_ROOMS = ['api', 'defaults', 'host', 'ipam', 'broker', 'member-agent', 'gateway', 'tunnel', 'crds', 'deploy'];
export const productRoomsWithoutLab = {
  files: PRODUCT_ROOMS.map((r) => `${r}/**/*.ts`),
  ignores: TEST_ONLY_FILES,
  rules: { 'no-restricted-imports': ['error', { paths: [NO_JEST], patterns: [NO_TEST_FACE, NO_LAB] }] },
};

/**
 * One logger type (host/logger.ts `Logger`, pino) and errors logged as objects: `log.warn({ err }, '…')`
 * keeps the type, code, details and stack that `String(e)` or `e.message` throw away.
 */
export const loggingRules = {
  files: ['**/*.ts'],
  ignores: ['host/logger.ts'],
  rules: {
    'no-restricted-syntax': ['error',
      { selector: 'Property[key.name="err"] > CallExpression[callee.name="String"]', message: 'log the error object: { err } (pino serializes it), not String(e).' },
      { selector: 'Property[key.name="err"] > MemberExpression[property.name="message"]', message: 'log the error object: { err } (pino serializes it), not e.message.' },
      { selector: 'Property[key.name="err"] > TemplateLiteral', message: 'log the error object: { err } (pino serializes it), not a string.' },
      { selector: ':matches(TSInterfaceDeclaration, TSTypeAliasDeclaration)[id.name=/^Log(ger)?$/]', message: 'one logger type: import { type Logger } from host.' },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  productImports,
  productRoomsWithoutLab,
  loggingRules,
);
