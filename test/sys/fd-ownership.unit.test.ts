// The fd rule of lib/ (see openFd in lib/sys/libc.ts), checked on the sources: in a worker_thread Node
// closes, when the worker ends, every fd fs.open* made that it did not see closed by fs.close*; an fd
// closed with libc instead has its number reused meanwhile, and Node then closes another fd of the process.
import * as fs from 'node:fs'
import * as path from 'node:path'

const libDir = path.join(__dirname, '../../lib')

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : []
  })
}

const files = sources(libDir).map((file) => ({ name: path.relative(libDir, file), text: fs.readFileSync(file, 'utf8') }))

/** `file: line` of each line of lib/ matching `re`. */
function linesMatching(re: RegExp, only = (_text: string, _m: RegExpExecArray) => true): string[] {
  return files.flatMap(({ name, text }) =>
    text.split('\n').flatMap((line, i) => {
      const m = re.exec(line)
      return m && only(text, m) ? [`${name}:${i + 1}: ${line.trim()}`] : []
    }),
  )
}

test('an fd that leaves the function that opened it is not opened with fs.open* (its closer cannot know to use fs.close*)', () => {
  expect(linesMatching(/(return|=>)\s*fs\.open(Sync)?\(/)).toEqual([])
})

test('an fd opened with fs.openSync is never closed with closeQuietly in the same file', () => {
  const closedWithLibc = (text: string, m: RegExpExecArray) => new RegExp(`closeQuietly\\(${m[1]}\\)`).test(text)
  expect(linesMatching(/(\w+) = fs\.openSync\(/, closedWithLibc)).toEqual([])
})

test('an fd opened with libc or a Source is never closed with fs.close*', () => {
  const closedWithFs = (text: string, m: RegExpExecArray) => new RegExp(`fs\\.close(Sync)?\\(${m[1]}\\)`).test(text)
  expect(linesMatching(/(\w+) = (openFd|openat2|openNetns|createNetns|\w+\.open|\w+\.openFile)\(/, closedWithFs)).toEqual([])
})

test('a stream made on an fd of lib/ closes it through an fs override (a stream closes with fs.close)', () => {
  expect(linesMatching(/create(Read|Write)Stream\((?!.*\bfs:).*\bfd:/)).toEqual([])
})
