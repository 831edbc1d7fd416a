// Import rules checked by `npm test` (npm run lint:deps): no cycles anywhere, and the fleet's
// folders layered bottom to top, each importing only from the layers below it (docs/architecture.md):
//   core → options → router | runtime | load | analysis | manifests → strategies → report → deploy | verify → cli → bin
// `index.ts` (the public facade) may import anything; nothing imports it.
const layers = ['core', 'options', '(router|runtime|load|analysis|manifests)', 'strategies', 'report', '(deploy|verify)', 'cli', 'bin']
const fleet = 'packages/fleet/src/'

const layerRules = layers.slice(0, -1).map((layer, i) => ({
  name: `fleet-layer-${i}`,
  severity: 'error',
  comment: `${layer} is below ${layers.slice(i + 1).join(', ')}: it may not import from them`,
  from: { path: `^${fleet}${layer}/` },
  to: { path: `^${fleet}(${layers.slice(i + 1).join('|')})/` },
}))

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles (type-only ones too) show a type living in the wrong module', from: {}, to: { circular: true } },
    { name: 'no-facade-import', severity: 'error', comment: 'only users import the package entry; its own modules import each other directly', from: { path: '^packages/[^/]+/src/' }, to: { path: '^packages/[^/]+/src/index\\.ts$' } },
    { name: 'no-own-dist-import', severity: 'error', comment: 'a package\'s sources never import built output of this repository\'s packages', from: { path: '^packages/' }, to: { path: '^packages/[^/]+/dist/' } },
    {
      name: 'same-layer-siblings',
      severity: 'error',
      comment: 'router, runtime, load, analysis and manifests are independent parts: they share core, options and each other\'s leaf types.ts only',
      from: { path: `^${fleet}(router|runtime|load|analysis|manifests)/` },
      to: { path: `^${fleet}(router|runtime|load|analysis|manifests)/`, pathNot: [`^${fleet}$1/`, '/types\\.ts$'] },
    },
    {
      name: 'deploy-verify-siblings',
      severity: 'error',
      comment: 'deploy (our fleet) and verify (someone else\'s rollout) are independent commands: neither imports the other',
      from: { path: `^${fleet}(deploy|verify)/` },
      to: { path: `^${fleet}(deploy|verify)/`, pathNot: [`^${fleet}$1/`] },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
}
