/** What a test reads of a tar archive's headers. */
import * as tar from 'tar-stream'

/** Each entry's "uid:gid" by name (a trailing slash dropped), as the headers say. */
export async function tarOwners(tarBytes: Buffer): Promise<Record<string, string>> {
  const owners: Record<string, string> = {}
  const extract = tar.extract()
  extract.on('entry', (h, stream, next) => {
    owners[h.name.replace(/\/$/, '')] = `${h.uid}:${h.gid}`
    stream.resume()
    stream.on('end', next)
  })
  await new Promise<void>((resolve, reject) => extract.on('finish', resolve).on('error', reject).end(tarBytes))
  return owners
}
