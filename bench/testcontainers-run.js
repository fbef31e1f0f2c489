// Runs inside the private Docker engine's network namespace (started by testcontainers-peer.js):
// testcontainers-node starts redis-server and nginx from the imported image, with the wait strategies
// the minicontainer rows use, and prints the times from start() call to ready as JSON.
'use strict'
const { GenericContainer, Wait } = require('testcontainers')

async function timed(build) {
  const t0 = performance.now()
  const c = await build().start()
  const ms = performance.now() - t0
  await c.stop({ timeout: 0 })
  return ms
}

async function main() {
  const { image, rounds, redisArgs, nginxConf, nginxArgs } = JSON.parse(process.argv[2])
  const redis = () => new GenericContainer(image).withCommand(redisArgs).withExposedPorts(6379).withWaitStrategy(Wait.forListeningPorts())
  const nginx = () =>
    new GenericContainer(image)
      .withCommand(nginxArgs)
      .withExposedPorts(80)
      .withCopyContentToContainer([{ content: nginxConf, target: '/etc/bench-nginx.conf' }])
      .withWaitStrategy(Wait.forHttp('/', 80).forStatusCode(200))
  const out = { redis: [], nginx: [] }
  await timed(redis) // warm-up, as for minicontainer
  for (let i = 0; i < rounds; i++) {
    out.redis.push(await timed(redis))
    out.nginx.push(await timed(nginx))
  }
  console.log(JSON.stringify(out))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
