// Writes dist/index.mjs and dist/modules/index.mjs so `import { run } from 'minicontainer'` and
// `import { RedisContainer } from 'minicontainer/modules'` work next to require().
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const dist = path.join(__dirname, '..', 'dist')
for (const entry of ['index', 'modules/index']) {
  const names = Object.keys(require(path.join(dist, `${entry}.js`))).filter((n) => n !== 'default' && n !== '__esModule')
  const body = `import cjs from './index.js'\nexport const { ${names.join(', ')} } = cjs\nexport default cjs\n`
  fs.writeFileSync(path.join(dist, `${entry}.mjs`), body)
}
