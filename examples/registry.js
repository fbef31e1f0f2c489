// A registry round trip: start Debian's docker-registry on loopback (apt-get install docker-registry
// busybox-static), push an image made with Image.import, pull it into a fresh runtime and run it.
// Everything it starts and writes goes away at the end (the registry, both runtimes, the temp dir).
// The example may start a tool; the library never does: push and pull are HTTP from Node.
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { run, Image, Runtime } = require('minicontainer')

/** A free port on 127.0.0.1. */
async function freePort() {
  const srv = net.createServer()
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address()
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** Starts docker-registry on 127.0.0.1:port storing into dir; resolves once it accepts connections. */
async function startRegistry(dir, port) {
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`)
  // Its log (a 404 for every blob a push checks first) is kept for a failure message only.
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (d) => (log = (log + d).slice(-2000)))
  const failed = new Promise((_, reject) => {
    child.once('error', (err) => reject(new Error(`docker-registry could not start (${err.code}): apt-get install docker-registry`)))
    child.once('exit', (code) => reject(new Error(`docker-registry exited with ${code}: ${log}`)))
  })
  failed.catch(() => {})
  const stop = () => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM'))))
  for (let i = 0; i < 100; i++) {
    const up = await Promise.race([failed, new Promise((resolve) => net.connect(port, '127.0.0.1').once('connect', function () { this.destroy(); resolve(true) }).once('error', () => resolve(false)))])
    if (up) return { stop }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error('docker-registry did not listen within 10 s')
}

/** A tiny root filesystem: busybox (Debian's busybox-static), sh, and a greeting. */
function rootfs(dir) {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))
  if (!busybox) throw new Error('busybox is not installed: apt-get install busybox-static')
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'etc'))
  fs.copyFileSync(busybox, path.join(dir, 'bin/busybox'))
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755)
  for (const applet of ['sh', 'cat', 'echo']) fs.symlinkSync('busybox', path.join(dir, 'bin', applet))
  fs.writeFileSync(path.join(dir, 'etc/greeting'), 'hello from a pushed and pulled image\n')
  return dir
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-example-registry-'))
  const pusher = new Runtime({ root: path.join(tmp, 'pusher') })
  const puller = new Runtime({ root: path.join(tmp, 'puller') })
  let registry
  try {
    fs.mkdirSync(path.join(tmp, 'registry'))
    const port = await freePort()
    registry = await startRegistry(path.join(tmp, 'registry'), port) //      docker run -d -p 5000:5000 registry:2
    const ref = `127.0.0.1:${port}/examples/hello:1`

    const img = await Image.import(rootfs(path.join(tmp, 'rootfs')), { runtime: pusher, ref: 'hello:1' })
    const pushed = await img.push(ref) //                                       docker push 127.0.0.1:5000/examples/hello:1
    console.log(`pushed ${ref} (${pushed.digest})`)

    const pulled = await Image.pull(ref, { runtime: puller }) //               docker pull (loopback: plain http)
    console.log(`pulled ${pulled.id === img.id ? 'the same image id' : 'a different image id!'} ${pulled.id.slice(0, 19)}`)
    const c = await run(ref, ['sh', '-c', 'cat /etc/greeting'], { runtime: puller, network: 'none', pull: 'never' })
    await c.wait()
    for await (const line of c.logs()) process.stdout.write(line)
    await c.remove()
  } finally {
    await puller.close()
    await pusher.close()
    await registry?.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err.code ?? '', err.message)
  process.exit(1)
})
