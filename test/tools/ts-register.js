// Lets a plain `node` child process load the library's TypeScript sources, as jest does (transpile only:
// `npm run typecheck` checks the types). Loaded through test/tools/node-child.ts, never directly.
// Transpiled files are cached by content hash: loading typescript and transpiling all of lib/ costs
// seconds of CPU per child on a busy machine, a cache hit only a hash.
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const cacheDir = path.resolve(__dirname, '../../node_modules/.cache/minicontainer-test-ts')
let ts

function transpile(source, filename) {
  ts ??= require('typescript')
  const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }
  return ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText
}

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8')
  const cached = path.join(cacheDir, crypto.createHash('sha256').update(filename).update('\0').update(source).digest('hex') + '.js')
  let out
  try {
    out = fs.readFileSync(cached, 'utf8')
  } catch {
    out = transpile(source, filename)
    try {
      fs.mkdirSync(cacheDir, { recursive: true })
      fs.writeFileSync(`${cached}.${process.pid}`, out)
      fs.renameSync(`${cached}.${process.pid}`, cached) // atomic: racing children never read half a file
    } catch {} // a read-only checkout (e.g. `npm run test:unit` as nobody) just transpiles every time
  }
  module._compile(out, filename)
}
