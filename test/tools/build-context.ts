/**
 * Build contexts for Image.build tests: a fresh temp directory per call
 * holding the given files (parents made), all removed after the file's tests.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

/** Returns a maker of contexts named `<prefix>XXXXXX` under the temp dir; registers their removal in afterAll. */
export function useBuildContexts(prefix: string): (files: Record<string, string>) => string {
  const dirs: string[] = []
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
  return (files) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    dirs.push(dir)
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), content)
    }
    return dir
  }
}
