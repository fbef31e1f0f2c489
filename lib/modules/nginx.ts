/**
 * nginx serving static pages: a minimal configuration of its own (so the
 * same module runs the official image and a host image's nginx), the pages
 * given copied in, ready when `/` answers.
 *
 * @module
 */
import type { ContainerContext } from '../container/context'
import { run } from '../container/run'
import { Wait } from '../harness/wait'
import { StartedService } from './started-service'

/** Options of {@link NginxContainer}. */
export interface NginxOptions {
  /** A `Runtime` of minicontainer's (its `runtime` option); omitted, the default runtime. */
  runtime?: ContainerContext
  /** The image; default 'nginx:1.27' (any image with `nginx` on its PATH). */
  image?: string
  /** Files to serve, by path under the web root: `{ 'index.html': '<h1>hi</h1>' }`. Without an index.html, `/` lists the directory. */
  pages?: Record<string, string>
  /** How long nginx may take to be ready, in ms (default 30 000). */
  startupTimeout?: number
}

// Outside /usr: a host image binds the host's /usr read-only.
const root = '/srv/mc-pages'

/** Everything in /tmp, logs to stderr: nothing depends on the image's own configuration or users. */
const config = `worker_processes 1;
error_log stderr;
pid /tmp/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
  server { listen 80; root ${root}; autoindex on; }
}
`

/** An nginx for a test: `const web = await new NginxContainer({ pages }).start(); fetch(web.connectionUrl)`. */
export class NginxContainer {
  /** @param opts - image, pages, startup timeout and runtime */
  constructor(private readonly opts: NginxOptions = {}) {}

  /** Starts nginx and resolves once `/` answers 200. */
  async start(): Promise<StartedService> {
    const { image = 'nginx:1.27', pages = {}, startupTimeout = 30_000, runtime } = this.opts
    const files = [
      { target: '/etc/nginx/mc-module.conf', content: config },
      { target: `${root}/.keep`, content: '' },
      ...Object.entries(pages).map(([file, content]) => ({ target: `${root}/${file.replace(/^\/+/, '')}`, content })),
    ]
    const container = await run(image, ['nginx', '-c', '/etc/nginx/mc-module.conf', '-g', 'daemon off;'], {
      ports: ['80'], rm: true, files, startupTimeout, waitFor: Wait.forHttp('/', 80, { status: 200 }), ...(runtime ? { runtime } : {}),
    })
    const port = container.mappedPort(80)
    return new StartedService(container, port, `http://${container.host}:${port}/`)
  }
}
