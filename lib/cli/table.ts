/**
 * Docker-style output for people: tables (upper-case headers, columns padded
 * to their widest cell, three spaces apart), ages and sizes as Docker says them.
 *
 * @module
 */

/** The rows under `headers`, each line ending in a newline. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd()
  return [headers, ...rows].map(line).join('\n') + '\n'
}

/** How long ago an ISO time was, as Docker says it ("5 seconds ago", "2 hours ago"). */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  const units: Array<[number, string]> = [[86_400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]
  const [size, unit] = units.find(([s]) => seconds >= s) ?? [1, 'second']
  const n = Math.floor(seconds / size)
  return `${n} ${unit}${n === 1 ? '' : 's'} ago`
}

/** Sizes as Docker prints them: decimal units, three significant digits ("7.43MB", "512B"). */
export function sizeText(bytes: number): string {
  const units: Array<[number, string]> = [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']]
  const [size, unit] = units.find(([s]) => bytes >= s) ?? [1, 'B']
  return `${Number((bytes / size).toPrecision(3))}${unit}`
}
