/**
 * The default runtime as each layer sees it: a value bound from above by
 * the composition root (lib/runtime.ts), so that a layer can offer
 * `Image.get(ref)` without `{ runtime }` and still never import the
 * Runtime class that sits above it.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** A default bound later by the layer above; `of()` prefers an explicit value. */
export class DefaultBinding<T> {
  private provider: (() => T) | undefined

  /** @param missing - the error message when neither an explicit value nor a default exists. */
  constructor(private readonly missing = 'no runtime: pass { runtime } (the default runtime is bound when minicontainer is imported through its entry point)') {}

  /** Binds the provider (the runtime module does, once). */
  bind(provider: (() => T) | undefined): void {
    this.provider = provider
  }

  /** `explicit` when given, else the bound default. */
  of(explicit: T | undefined): T {
    const value = explicit ?? this.provider?.()
    if (value === undefined) throw new InvalidArgumentError(this.missing)
    return value
  }
}
