/**
 * A TypeScript project set up as the README's jest section says: jest,
 * ts-jest, typescript and the type packages (this checkout's, linked: no
 * network), `tsc --init`, then the README's two edits of its tsconfig.json.
 * Where minicontainer comes from is the caller's business.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { repoRoot } from './repo-root'

/** The checkout's tsc, run with node. */
export const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')

/** Links the README's dev dependencies into dir/node_modules, runs `tsc --init` and makes the README's edits; throws if `tsc --init` wrote something the edits do not fit. */
export function readmeJestProject(dir: string): void {
  const modules = path.join(dir, 'node_modules')
  fs.mkdirSync(path.join(modules, '@types'), { recursive: true })
  for (const types of ['node', 'jest']) fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', types), path.join(modules, '@types', types))
  for (const dev of ['jest', 'ts-jest', 'typescript']) fs.symlinkSync(path.join(repoRoot, 'node_modules', dev), path.join(modules, dev))
  execFileSync(process.execPath, [tsc, '--init'], { cwd: dir, stdio: 'ignore' })
  const configFile = path.join(dir, 'tsconfig.json')
  const config = fs.readFileSync(configFile, 'utf8')
  const edited = config.replace('"types": [],', '"types": ["node", "jest"],').replace('"verbatimModuleSyntax": true,', '"verbatimModuleSyntax": false,')
  if (!/"strict": true/.test(config) || edited.match(/"types": \["node", "jest"\]|"verbatimModuleSyntax": false/g)?.length !== 2) {
    throw new Error(`tsc --init wrote a tsconfig.json the README's edits do not fit:\n${config}`)
  }
  fs.writeFileSync(configFile, edited)
}
