// Seed 002/004: an nginx-style "html" volume, filled by one container and served by two others.
'use strict'
const { run, Image, Runtime, Volume } = require('minicontainer')

async function main() {
  const runtime = new Runtime({ root: '/tmp/minicontainer-examples' })
  try {
    await Image.fromHost({ runtime, ref: 'host' })
    const html = await Volume.create('html', { runtime, labels: { app: 'web' } })

    const writer = await run('host', ['sh', '-c', 'echo "<h1>hello from a volume</h1>" > /srv/www/html/index.html'], {
      runtime, volumes: ['html:/srv/www/html'],
    })
    await writer.wait()
    await writer.remove()

    for (const name of ['web1', 'web2']) {
      const web = await run('host', ['sleep', '60'], { runtime, name, volumes: ['html:/srv/www/html:ro'] })
      const page = await web.exec(['cat', '/srv/www/html/index.html'])
      console.log(`${name} serves: ${page.stdout.trim()}`)
      await web.remove({ force: true })
    }
    console.log('volume:', JSON.stringify(await html.inspect()))
    await html.remove()
  } finally {
    await runtime.close() // its containers stop and its bridge, rules and table go: nothing stays on the host
  }
}

main().catch((err) => {
  console.error(err.code ?? '', err.message)
  process.exit(1)
})
