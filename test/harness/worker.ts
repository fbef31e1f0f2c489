/**
 * One test worker process for workers.test.ts: on the default runtime
 * ($MINICONTAINER_ROOT), it shares a reused redis, makes its own user
 * network, runs containers with published ports, and prints what it got
 * as one JSON line. It keeps all of it until its parent writes a line on
 * stdin, so the four workers hold their subnets, ports and addresses at the
 * same time (a subnet released by a fast worker may rightly be reused).
 */
import { Network, run, Wait } from '../../lib'

async function main(): Promise<void> {
  const worker = process.argv[2]
  const redis = await run('host', ['redis-server', '--save', '', '--protected-mode', 'no'], {
    name: 'shared-redis', reuse: true, ports: ['6379'], waitFor: Wait.forListeningPorts(), startupTimeout: 30_000,
  })
  const net = await Network.create(`net-${worker}`)
  const web = ['a', 'b'].map((x) =>
    run('bb', ['httpd', '-f', '-p', '80', '-h', '/www'], {
      name: `web-${worker}-${x}`, network: `net-${worker}`, ports: ['80'],
      files: [{ target: '/www/index.html', content: `${worker}-${x}\n` }],
      waitFor: Wait.forHttp('/', 80, { body: `${worker}-${x}` }), startupTimeout: 30_000,
    }),
  )
  const containers = await Promise.all(web)
  const answers = await Promise.all(containers.map(async (c) => (await fetch(`http://127.0.0.1:${c.port(80)!.hostPort}/`)).text()))
  const report = {
    redis: redis.id,
    subnet: (await net.inspect()).subnet,
    hostPorts: containers.map((c) => c.port(80)!.hostPort),
    ips: await Promise.all(containers.map(async (c) => (await c.inspect()).networkSettings.networks[`net-${worker}`].ipAddress)),
    names: containers.map((c) => c.name),
    answers: answers.map((a) => a.trim()),
  }
  console.log(JSON.stringify(report))
  // A line from the parent, or its end of the pipe (the parent died): clean up either way.
  await new Promise((resolve) => process.stdin.once('data', resolve).once('end', resolve))
  for (const c of containers) await c.remove({ force: true })
  await net.remove()
  process.stdin.destroy()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
