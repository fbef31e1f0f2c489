/**
 * "Did you mean ...?": the known word nearest a mistyped one, as BuildKit
 * suggests an instruction (Levenshtein distance, case ignored).
 *
 * @module
 */

/** Edits (insert, delete, substitute) between two words. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)))
    row = next
  }
  return row[b.length]
}

/** The word of `known` nearest `word` when it is a likely typo (at most 2 edits, and fewer than half its letters), else undefined. */
export function closestWord(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  let best: { word: string; d: number } | undefined
  for (const k of known) {
    const d = distance(w, k.toLowerCase())
    if (!best || d < best.d) best = { word: k, d }
  }
  return best && best.d <= 2 && best.d * 2 < w.length ? best.word : undefined
}
