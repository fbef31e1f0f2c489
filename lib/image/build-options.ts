/**
 * The options of `Image.build` (the builder itself is lib/build/, bound in
 * by the runtime module so this layer never imports the container layer).
 *
 * @module
 */
import type { ImageStore } from './store'

/** A step of a build, as {@link BuildOptions.onLog} names it. */
export interface BuildStep {
  /** The stage's name, or its index as a string. */
  stage: string
  /** 1-based line of the instruction. */
  line: number
  /** The instruction as written, e.g. "RUN make". */
  instruction: string
}

/** Options of `Image.build`. */
export interface BuildOptions {
  /** The Dockerfile: a path in the context (default "Dockerfile"), an absolute path, or its text. */
  dockerfile?: string | { content: string }
  /** Tags for the result, e.g. "app:test". */
  tag?: string | string[]
  /** Values of the Dockerfile's ARGs (`--build-arg`); one no ARG declares changes nothing. */
  buildArgs?: Record<string, string>
  /** The stage to build (`--target`); default the last. Stages it does not need are not built. */
  target?: string
  /** Labels added to the result's config. */
  labels?: Record<string, string>
  /** Network of RUN steps: 'bridge' (default, as Docker), 'none' or 'host'. */
  network?: 'bridge' | 'none' | 'host'
  /** Base images: 'missing' (default) pulls one not stored, 'never' fails instead. */
  pull?: 'missing' | 'never'
  /** Build every step again; the cache is neither read nor written. */
  noCache?: boolean
  /** Each line of output and progress ("CACHED" for a step taken from the cache), with its step. */
  onLog?: (line: string, step: BuildStep) => void
  /** Aborts the build (EABORTED); nothing it was making is left. */
  signal?: AbortSignal
  /** A `Runtime`; omitted, the default runtime. */
  runtime?: { readonly images: ImageStore }
}
