/**
 * nginx serving static pages: a minimal configuration of its own (so the
 * same module runs the official image and a host image's nginx), the pages
 * given copied in, ready when `/` answers.
 *
 * @module
 */
import { Wait } from '../harness/wait'
import { runService, type ServiceOptions } from './service-options'
import type { StartedService } from './started-service'

/** Options of {@link NginxContainer}: image 'nginx:1.27' and a 30 s startup timeout unless given. */
export interface NginxOptions extends ServiceOptions {
  /** Files to serve, by path under the web root: `{ 'index.html': '<h1>hi</h1>' }`. Without an index.html, `/` lists the directory. */
  pages?: Record<string, string>
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
  /** @param opts - pages, and the options of every module */
  constructor(private readonly opts: NginxOptions = {}) {}

  /** Starts nginx and resolves once `/` answers 200. */
  async start(): Promise<StartedService> {
    const pages = Object.entries(this.opts.pages ?? {}).map(([file, content]) => ({ target: `${root}/${file.replace(/^\/+/, '')}`, content }))
    return runService(this.opts, {
      image: 'nginx:1.27', startupTimeout: 30_000, port: 80, waitFor: Wait.forHttp('/', 80, { status: 200 }),
      cmd: ['nginx', '-c', '/etc/nginx/mc-module.conf', '-g', 'daemon off;'],
      files: [{ target: '/etc/nginx/mc-module.conf', content: config }, { target: `${root}/.keep`, content: '' }, ...pages],
      url: (host, port) => `http://${host}:${port}/`,
    })
  }
}
