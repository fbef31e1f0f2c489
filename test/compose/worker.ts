/**
 * One worker process for workers.test.ts: on the default runtime
 * ($MINICONTAINER_ROOT) it ups the shared file as its own project (a fixed
 * host port and a container_name in the file: `ports: 'ephemeral'`,
 * `isolateNames`), asks for the reused project every worker shares, and
 * prints what it got as one JSON line. It holds its project until its parent
 * writes a line on stdin (or dies), then takes it down; the shared one stays.
 */
import { Compose } from '../../lib'

async function main(): Promise<void> {
  const [own, shared, workdir] = process.argv.slice(2)
  const env = await Compose.up({ yaml: own, workdir }, { ports: 'ephemeral', isolateNames: true })
  const reused = await Compose.up({ yaml: shared, workdir }, { projectName: 'shared-env', reuse: true })
  const port = env.port('web', 80)
  const report = {
    project: env.projectName,
    web: (await env.service('web').inspect()).name,
    port,
    answer: (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim(),
    fromClient: (await env.exec('client', ['wget', '-q', '-O-', 'http://fixed-web/'])).stdout.trim(),
    shared: reused.service('db').id,
  }
  console.log(JSON.stringify(report))
  await new Promise((resolve) => process.stdin.once('data', resolve).once('end', resolve))
  await env.down({ volumes: true })
  process.stdin.destroy()
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
