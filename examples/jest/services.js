// The shared services of this jest project: how globalSetup starts them and how tests find them.
'use strict'
const { run, Container, Image, Wait } = require('minicontainer')

const nginxConf = `
worker_processes 1;
error_log stderr;
pid /tmp/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
  server {
    listen 80;
    location = /health { return 200 "ok\\n"; }
    location / { return 200 "hello from nginx\\n"; }
  }
}
`

/** Starts (or, with reuse, finds) redis-server and nginx from the host's own programs. */
async function startServices() {
  await Image.fromHost({ ref: 'host' })
  const [redis, nginx] = await Promise.all([
    run('host', ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      name: 'jest-example-redis', reuse: true, ports: ['6379'],
      waitFor: Wait.forListeningPorts(), startupTimeout: 30_000,
    }),
    run('host', ['nginx', '-e', 'stderr', '-c', '/etc/nginx-test.conf', '-g', 'daemon off;'], {
      name: 'jest-example-nginx', reuse: true, ports: ['80'],
      files: [{ target: '/etc/nginx-test.conf', content: nginxConf }],
      waitFor: Wait.forHttp('/health', 80, { status: 200, body: /ok/ }), startupTimeout: 30_000,
    }),
  ])
  return { redis, nginx }
}

/** Removes both services (globalTeardown). */
async function stopServices() {
  for (const name of ['jest-example-redis', 'jest-example-nginx']) {
    const c = await Container.get(name).catch(() => undefined)
    if (c) await c.remove({ force: true })
  }
}

/** Where a test reaches a service from the host: 127.0.0.1 and the published port. */
async function endpoint(name, port) {
  const c = await Container.get(name)
  return { host: '127.0.0.1', port: Number(c.port(port).hostPort) }
}

module.exports = {
  startServices,
  stopServices,
  redis: () => endpoint('jest-example-redis', 6379),
  nginx: () => endpoint('jest-example-nginx', 80),
}
