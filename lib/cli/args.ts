/**
 * The command line's words as Docker's CLI reads them: flags before the
 * positionals (`-f`, `--rm`), options with a value (`--tail 5`, `--tail=5`,
 * repeatable `-p`), and `--` ending the flags (`exec web -- ls -l`).
 *
 * @module
 */

/** A wrong command line: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}

/** What a command accepts: its boolean flags and its options taking a value (each name with its aliases). */
export interface ArgSpec {
  flags?: Record<string, string[]>
  options?: Record<string, string[]>
}

/** The parsed line: flags set, option values in order given, and the positionals. */
export interface ParsedArgs {
  flags: Set<string>
  options: Map<string, string[]>
  positionals: string[]
}

function nameOf(word: string, table: Record<string, string[]> = {}): string | undefined {
  return Object.keys(table).find((name) => table[name]?.includes(word))
}

/**
 * Parses `argv`. Flags and options are read until the first positional (so a
 * container's own command keeps its flags: `run bb ls -l`) or `--`.
 */
export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const parsed: ParsedArgs = { flags: new Set(), options: new Map(), positionals: [] }
  let i = 0
  for (; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === '--') { i++; break }
    if (!word.startsWith('-') || word === '-') break
    const [key, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined]
    const flag = nameOf(key, spec.flags)
    const option = nameOf(key, spec.options)
    if (flag && inline === undefined) parsed.flags.add(flag)
    else if (option) {
      const value = inline ?? argv[++i]
      if (value === undefined) throw new UsageError(`${key} needs a value`)
      parsed.options.set(option, [...(parsed.options.get(option) ?? []), value])
    } else throw new UsageError(`unknown flag ${key}`)
  }
  parsed.positionals = argv.slice(i)
  return parsed
}

/** The last value given to an option, if any. */
export function lastValue(args: ParsedArgs, option: string): string | undefined {
  return args.options.get(option)?.at(-1)
}
