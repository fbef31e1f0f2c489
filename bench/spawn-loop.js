// Times N runs of a command, each started with posix_spawn (the same way minicontainer starts
// its shim) and awaited with waitpid, so other runtimes are measured without Node's slower
// child_process overhead. Prints JSON {ms: [...]} on stdout.
'use strict'
const { spawnProcess, waitPid } = require('../dist/sys/libc')
const { now } = require('./stats')

const [n, ...argv] = process.argv.slice(2)
argv[0] = require('node:child_process').execFileSync('sh', ['-c', `command -v ${argv[0]}`], { encoding: 'utf8' }).trim()
const devnull = require('node:fs').openSync('/dev/null', 'r+')
const ms = []
for (let i = 0; i < Number(n); i++) {
  const args = argv.map((a) => a.replace('{i}', String(i)))
  const t0 = now()
  const pid = spawnProcess(args[0], args, Object.entries(process.env).map(([k, v]) => `${k}=${v}`), [devnull, devnull, devnull], false)
  const status = waitPid(pid)
  ms.push(now() - t0)
  if (status !== 0) {
    console.log(JSON.stringify({ error: `${args.join(' ')} exited with status ${status}` }))
    process.exit(0)
  }
}
console.log(JSON.stringify({ ms }))
