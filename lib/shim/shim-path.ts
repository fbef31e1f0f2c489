/**
 * Where this process's mc-shim binary is.
 * @module
 */
import * as path from 'node:path'
import { nativeDir } from '../sys/native-dir'

/** The mc-shim binary of this process (see native-dir.ts). */
export const shimPath = path.join(nativeDir, 'mc-shim')
