/** The repository's root directory, for tests and tools that run its scripts, examples or built package. */
import * as path from 'node:path'

/** The checkout this test runs from (the directory of package.json). */
export const repoRoot = path.resolve(__dirname, '..', '..')
