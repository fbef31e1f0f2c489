/**
 * Where the native artefacts (mc-shim, libmcnative.so) are: `native/build/`
 * when they were built from source (a git checkout, or `npm install` on a
 * CPU with no prebuilt binaries), else the package's prebuilt ones for this
 * CPU, `native/prebuilt/linux-<arch>/` (made by scripts/prebuild.js).
 * `MINICONTAINER_NATIVE_DIR` names another directory holding both (tests
 * use it for a shim of another protocol version).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

const nativeRoot = path.resolve(__dirname, '..', '..', 'native')
const artefacts = ['mc-shim', 'libmcnative.so']

/** The CPUs the package ships prebuilt binaries for (Node's `process.arch` names). */
export const prebuiltArchs: readonly string[] = ['x64', 'arm64']

function complete(dir: string): boolean {
  return artefacts.every((f) => fs.existsSync(path.join(dir, f)))
}

/** $MINICONTAINER_NATIVE_DIR, else the first of native/build/ and native/prebuilt/linux-<arch>/ holding both artefacts; native/build/ when neither does. */
function findNativeDir(): string {
  if (process.env.MINICONTAINER_NATIVE_DIR) return path.resolve(process.env.MINICONTAINER_NATIVE_DIR)
  const built = path.join(nativeRoot, 'build')
  const prebuilt = path.join(nativeRoot, 'prebuilt', `linux-${process.arch}`)
  return [built, prebuilt].find(complete) ?? built
}

/** Directory holding mc-shim and libmcnative.so for this process. */
export const nativeDir = findNativeDir()

/** What to do when an artefact is missing from {@link nativeDir}. */
export function missingNativeHint(file: string): string {
  const prebuilt = prebuiltArchs.includes(process.arch) ? '' : ` (prebuilt binaries exist for ${prebuiltArchs.join(' and ')}, not ${process.arch})`
  return `${file} is missing${prebuilt}: run \`npm rebuild minicontainer\` to build it from source (needs make and a C compiler)`
}
