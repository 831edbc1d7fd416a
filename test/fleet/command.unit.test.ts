import { describe, expect, it } from 'vitest'
import { execSimpleCommand } from '#fleet/options/deploy.js'

// dash forks a simple command instead of exec-ing it: the instance's exit code would be the
// shell's (killed by SIGTERM), not the service's. Simple commands get an `exec`; anything else
// is left to the shell untouched.
describe('command lines run with sh -c', () => {
  it.each([
    ['node server.js', 'exec node server.js'],
    ['APP_VERSION=v2 node server.js', 'APP_VERSION=v2 exec node server.js'],
    ['A=\'x y\' B="z" node s.js --flag', 'A=\'x y\' B="z" exec node s.js --flag'],
    ['exec node server.js', 'exec node server.js'],
    ['cd app && node server.js', 'cd app && node server.js'],
    ['node a.js; node b.js', 'node a.js; node b.js'],
    ['node server.js | tee log', 'node server.js | tee log'],
    ['FOO=$BAR node server.js', 'FOO=$BAR node server.js'],
    ['(node server.js)', '(node server.js)'],
  ])('%s → %s', (command, expected) => {
    expect(execSimpleCommand(command)).toBe(expected)
  })
})
