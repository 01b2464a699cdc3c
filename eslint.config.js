import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // `import * as z from 'zod'`, never `import { z }`: the CLI bundle can then leave out the parts of
  // zod no command uses (JSON Schema, 40 locales), which would otherwise load with every command.
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
          message: "use `import * as z from 'zod'`",
        },
      ],
    },
  },
  // The dashboard runs in the browser.
  { files: ['src/dashboard/src/**'], languageOptions: { globals: globals.browser } },
);
