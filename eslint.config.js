// Lint for the whole repository: neostandard (standard's rules as an ESLint flat config, with
// typescript-eslint for .ts), which the code already follows: no semicolons, single quotes.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['**/dist/**', '**/node_modules/**', 'test/bench/results/**', '**/*.d.ts'],
  }),
  {
    rules: {
      // the codebase aligns long argument lists and object literals in one line where they read as a table
      '@stylistic/max-len': 'off',
      // `export type * from` and `import type` are how this codebase keeps types out of runtime imports
      '@typescript-eslint/consistent-type-imports': 'off',
      // the house format (the first version's): no space before a function's parentheses,
      // trailing commas in multi-line literals, `void promise` for deliberate fire-and-forget,
      // `new Promise((r) => …)` for short waits
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      'no-void': 'off',
      // flags changed by a closure (stop()) end loops; the rule cannot see closures
      'no-unmodified-loop-condition': 'off',
      // write-only hooks (`probes.onResult = fn`) are setters on purpose
      'accessor-pairs': ['error', { setWithoutGet: false }],
      // Prometheus label names are snake_case by convention
      camelcase: ['error', { properties: 'never', allow: ['^status_code$'] }],
      'promise/param-names': 'off',
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: false }],
    },
  },
  {
    // tests: the public API through @zerodrop/*, internals through #lifecycle/… and #fleet/…
    // (test/vitest.config.ts maps both to src); never a relative path into packages/, never dist/
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/packages/**'], message: "import the public API as '@zerodrop/<pkg>' and internals as '#<pkg>/<path>.js'" },
          { group: ['**/dist/**'], message: 'tests never import built output; use @zerodrop/<pkg> or #<pkg>/<path>.js' },
        ],
      }],
    },
  },
]
