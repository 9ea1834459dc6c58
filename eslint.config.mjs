// ESLint flat config (ESLint 9, typescript-eslint 8).
//
// All TypeScript gets typescript-eslint's recommended rules. device/src and protocol/src run on
// Espruino 2v29, so they additionally get no-restricted-syntax / -globals / -properties built from
// tools/bundle-check/espruino-profile.json — the same list the bundle checker
// (tools/bundle-check) applies to dist/device/firmware.js — plus espruino/loop-closure from the
// local plugin tools/bundle-check/eslint-plugin.mjs for the profile's `loop-closure` entry.
// Edit that JSON, not this file.
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import espruino from './tools/bundle-check/eslint-plugin.mjs';

// Read with fs rather than `import … with { type: 'json' }`: JSON modules print an
// ExperimentalWarning on every run under Node 20.
const profile = JSON.parse(readFileSync(new URL('./tools/bundle-check/espruino-profile.json', import.meta.url), 'utf8'));

/** The message shown in the editor ends with the rule id, e.g. `[syntax/destructuring]`. */
const message = (rule) => `${rule.message} [${rule.id}]`;
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const builtinModules = `^(${profile.builtinModules.map(escapeRegExp).join('|')})$`;
const requireCall = "CallExpression[callee.type='Identifier'][callee.name='require']";

const restrictedSyntax = [];
const restrictedGlobals = [];
const restrictedProperties = [];
const pluginRules = {};
for (const rule of profile.rules) {
  switch (rule.kind) {
    case 'syntax':
      for (const { selector, only } of rule.selectors) {
        if (only !== 'bundle') restrictedSyntax.push({ selector, message: message(rule) });
      }
      break;
    case 'global':
      restrictedGlobals.push({ name: rule.name, message: message(rule) });
      break;
    case 'property':
      restrictedProperties.push(
        rule.object === undefined
          ? { property: rule.property, message: message(rule) }
          : { object: rule.object, property: rule.property, message: message(rule) },
      );
      break;
    case 'require-module':
      restrictedSyntax.push(
        { selector: `${requireCall}[arguments.0.type='Literal'][arguments.0.value!=/${builtinModules}/]`, message: message(rule) },
        // source only: packages are not bundled into the firmware; import project files by relative path
        { selector: "ImportDeclaration[importKind!='type'][source.value=/^[^.]/]", message: message(rule) },
      );
      break;
    case 'require-dynamic':
      restrictedSyntax.push({ selector: `${requireCall}[arguments.0.type!='Literal']`, message: message(rule) });
      break;
    case 'loop-closure':
      pluginRules['espruino/loop-closure'] = ['error', { message: message(rule) }];
      break;
    default:
      throw new Error(`eslint.config.mjs: unknown rule kind ${rule.kind} in espruino-profile.json (${rule.id})`);
  }
}

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'coverage/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    // pages' scripts: run in the buyer's browser, not in Node
    files: ['host/src/seller/web/**/*.mjs'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: {
      // allowed in tests, in moderation
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // the checker is standalone: node built-ins, acorn and acorn-walk, and its own files
    files: ['tools/bundle-check/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|acorn$|acorn-walk$|\\./)',
              message: 'tools/bundle-check may import only node: built-ins, acorn, acorn-walk and files beside it (see its README).',
            },
          ],
        },
      ],
    },
  },
  {
    name: 'espruino-profile (device/src, protocol/src)',
    files: ['device/src/**/*.ts', 'protocol/src/**/*.ts'],
    plugins: { espruino },
    rules: {
      ...pluginRules,
      'no-restricted-syntax': ['error', ...restrictedSyntax],
      'no-restricted-globals': ['error', ...restrictedGlobals],
      'no-restricted-properties': ['error', ...restrictedProperties],
      // Espruino's built-in modules are reached with require('Storage'); nothing else may be required
      '@typescript-eslint/no-require-imports': ['error', { allow: [builtinModules] }],
      // these recommend rest parameters and spread, which Espruino cannot run: `arguments` and
      // `f.apply(null, a)` are what PROFILE.md asks for instead
      'prefer-rest-params': 'off',
      'prefer-spread': 'off',
    },
  },
);
