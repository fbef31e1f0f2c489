// Test files run in a vm context: give it the disposal symbols `await using` needs.
import '../lib/util/dispose-symbol'

// The network rule of this repository: tests send traffic only to loopback and to namespaces and
// containers they made. HTTP from the library goes through fetch (the registry client): refuse
// anything else here, so that a test that would reach a public registry (an image missing because
// of an earlier failure, and `pull: 'missing'`) fails loudly instead of sending traffic out.
const realFetch = globalThis.fetch
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])
globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
  if (!loopback.has(url.hostname) && !url.hostname.startsWith('127.'))
    return Promise.reject(new Error(`test network rule: fetch to ${url.host} refused (tests may only reach loopback)`))
  return realFetch(input, init)
}) as typeof fetch
