/**
 * Loading the library again in one process (what jest does for every test
 * file: a fresh module registry, while Node keeps koffi's native module once
 * per process) must not keep the earlier copies alive. koffi's index wraps
 * its native module's `load` on each load; unguarded, every copy's wrapper
 * held the previous one, and with it that copy's whole module scope: a jest
 * worker grew by megabytes per test file until it could not exit in time
 * ("A worker process has failed to exit gracefully").
 */
import * as path from 'node:path'
import { nodeOutput } from '../tools/node-child'

const libDir = path.resolve(__dirname, '../../lib')

test('five fresh copies of the library: only the first copy of koffi stays reachable', () => {
  const out = nodeOutput(`
    const path = require('node:path')
    require('node:v8').setFlagsFromString('--expose-gc')
    const gc = require('node:vm').runInNewContext('gc')
    const fresh = (file) => file.startsWith(${JSON.stringify(libDir)}) || (file.includes('/node_modules/koffi/') && !file.endsWith('.node'))
    const copies = []
    for (let i = 0; i < 5; i++) {
      for (const file of Object.keys(require.cache)) if (fresh(file)) delete require.cache[file]
      const koffi = require(path.join(${JSON.stringify(libDir)}, 'sys/libc')) && require(path.join(${JSON.stringify(libDir)}, 'sys/koffi')).default
      copies.push(new WeakRef(koffi.load)) // this copy's wrapper of the native load()
      module.children.length = 0 // plain require's own link from this script to each copy
    }
    for (const file of Object.keys(require.cache)) if (fresh(file)) delete require.cache[file]
    ;(async () => {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)) }
      console.log(copies.map((ref) => (ref.deref() ? 'alive' : 'gone')).join(' '))
    })()`)
  expect(out.trim()).toBe('alive gone gone gone gone')
})
