/**
 * `Symbol.asyncDispose` where the realm lacks it (a vm context, as jest
 * uses, or an older Node): the same registered symbol Node itself uses, so
 * `await using` works everywhere. Imported before any class that uses it.
 * @module
 */
const symbols = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol }
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose')
symbols.dispose ??= Symbol.for('nodejs.dispose')

export {}
