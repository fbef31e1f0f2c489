// Seed 000/001 "共享文件": -v /host/dir:/ctr/dir shares a directory; edits flow both ways at once.
'use strict'
const fs = require('node:fs')
const { run, Image, Runtime } = require('minicontainer')

async function main() {
  const runtime = new Runtime({ root: '/tmp/minicontainer-examples' })
  try {
    await Image.fromHost({ runtime, ref: 'host' })
    const shared = fs.mkdtempSync('/tmp/mc-shared-')

    const c = await run('host', ['sleep', '60'], { runtime, volumes: [`${shared}:/tmp/shared`] })
    fs.writeFileSync(`${shared}/from-host.txt`, 'written on the host\n')
    console.log('container sees:', (await c.exec(['cat', '/tmp/shared/from-host.txt'])).stdout.trim())
    await c.exec(['sh', '-c', 'echo written in the container > /tmp/shared/from-container.txt'])
    console.log('host sees:', fs.readFileSync(`${shared}/from-container.txt`, 'utf8').trim())

    await c.remove({ force: true })
    const ro = await run('host', ['sh', '-c', 'touch /data/x'], { runtime, volumes: [`${shared}:/data:ro`] })
    await ro.wait()
    for await (const line of ro.logs()) process.stdout.write(`read-only mount: ${line}`)
    await ro.remove()
    fs.rmSync(shared, { recursive: true })
  } finally {
    await runtime.close() // its containers stop and its bridge, rules and table go: nothing stays on the host
  }
}

main().catch((err) => {
  console.error(err.code ?? '', err.message)
  process.exit(1)
})
