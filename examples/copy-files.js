// Seed 000/001 "拷贝数据": docker cp a.txt into a container and back out as b.txt; the md5s match.
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const { run, Image, Runtime } = require('minicontainer')

const md5 = (file) => crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex')

async function main() {
  const runtime = new Runtime({ root: '/tmp/minicontainer-examples' })
  try {
    await Image.fromHost({ runtime, ref: 'host' })
    const dir = fs.mkdtempSync('/tmp/mc-example-')
    fs.writeFileSync(`${dir}/a.txt`, 'a file from the host\n')

    const c = await run('host', ['sleep', '60'], { runtime }) //                   docker run -d redis
    await c.copyTo(`${dir}/a.txt`, '/tmp') //                                    docker cp a.txt 450:/tmp
    const inside = await c.exec(['md5sum', '/tmp/a.txt']) //                    docker exec 450 md5sum /tmp/a.txt
    await c.copyFrom('/tmp/a.txt', `${dir}/b.txt`) //                            docker cp 450:/tmp/a.txt ./b.txt

    console.log(`${md5(`${dir}/a.txt`)}  a.txt (host)`)
    console.log(inside.stdout.trim(), '(container)')
    console.log(`${md5(`${dir}/b.txt`)}  b.txt (host, copied back)`)
    await c.remove({ force: true })
    fs.rmSync(dir, { recursive: true })
  } finally {
    await runtime.close() // its containers stop and its bridge, rules and table go: nothing stays on the host
  }
}

main().catch((err) => {
  console.error(err.code ?? '', err.message)
  process.exit(1)
})
