/** The Dockerfile parser, variable expansion and .dockerignore rules (pure logic). */
import { parseDockerfile } from '../../lib/builder/dockerfile'
import { expandWord, expandWords } from '../../lib/builder/expand'
import { IgnoreRules } from '../../lib/builder/patterns'

const scope = (vars: Record<string, string>, escape = '\\') => ({ vars: new Map(Object.entries(vars)), escape, line: 7 })

describe('parseDockerfile', () => {
  it('joins continuations, skips comments inside them, keeps lines 1-based', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\nFROM bb\n\nRUN echo a \\\n# inside\n  && echo b\nrun ["echo", "x"]\n')
    expect(df.instructions.map((i) => [i.name, i.line, i.rest, i.json])).toEqual([
      ['FROM', 2, 'bb', undefined],
      ['RUN', 4, 'echo a   && echo b', undefined],
      ['RUN', 7, '["echo", "x"]', ['echo', 'x']],
    ])
  })
  it('falls back to the shell form for invalid JSON; reads flags', () => {
    const [, cmd, copy] = parseDockerfile('FROM bb\nCMD [echo, x]\nCOPY --from=b --chmod=644 a /b\n').instructions
    expect(cmd.json).toBeUndefined()
    expect([...copy.flags]).toEqual([['from', 'b'], ['chmod', '644']])
    expect(copy.rest).toBe('a /b')
  })
  it('takes only a whole shell word as a here-document marker, as BuildKit: not one inside quotes', () => {
    const df = parseDockerfile(['FROM bb', 'RUN echo "<<EOF" > /a', "RUN echo 'x <<EOF' && echo \\<<EOF", 'RUN cat <<"EOF" > /b', 'body', 'EOF', 'COPY a /c', ''].join('\n'))
    expect(df.instructions.map((i) => [i.name, i.line, i.heredocs?.map((h) => [h.name, h.data, h.expand])])).toEqual([
      ['FROM', 1, undefined],
      ['RUN', 2, undefined],
      ['RUN', 3, undefined],
      ['RUN', 4, [['EOF', 'body\n', false]]],
      ['COPY', 7, undefined],
    ])
  })
  it('honours the escape directive', () => {
    const df = parseDockerfile('# escape=`\nFROM bb\nRUN dir c:\\ `\n  && echo\n')
    expect(df.escape).toBe('`')
    expect(df.instructions[1].rest).toBe('dir c:\\   && echo')
  })
  it('refuses unknown instructions, empty files and foreign frontends', () => {
    expect(() => parseDockerfile('FROM bb\nFOO x\n')).toThrow(expect.objectContaining({ code: 'EDOCKERFILE', line: 2, message: expect.stringMatching(/^dockerfile parse error on line 2: unknown instruction: FOO \(the instructions are FROM, RUN, .*SHELL\)$/) }))
    expect(() => parseDockerfile('FROM bb\ncopyy a b\n')).toThrow(expect.objectContaining({ line: 2, message: 'dockerfile parse error on line 2: unknown instruction: copyy (did you mean COPY?)' }))
    expect(() => parseDockerfile('\n# c\n')).toThrow(expect.objectContaining({ code: 'EDOCKERFILE', message: 'the Dockerfile cannot be empty' }))
    expect(() => parseDockerfile('# syntax=example.com/frontend\nFROM bb\n')).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED' }))
  })

  it('reads here-documents: the lines up to each delimiter, <<- without leading tabs, quoted delimiters not expanded', () => {
    const df = parseDockerfile('FROM bb\nCOPY <<A <<-"B" /d/\na $X\nA\n\tb\n\tB\nRUN true\n')
    expect(df.instructions.map((i) => [i.name, i.line, i.heredocs])).toEqual([
      ['FROM', 1, undefined],
      ['COPY', 2, [{ name: 'A', data: 'a $X\n', expand: true }, { name: 'B', data: 'b\n', expand: false }]],
      ['RUN', 7, undefined],
    ])
  })
})

describe('expansion as BuildKit', () => {
  const s = scope({ V: 'v', E: '' })
  it.each([
    ['$V ${V}', 'v v'],
    ['${U:-d} ${E:-d} ${E-d} ${U-d}', 'd d  d'],
    ['${V:+x} ${E:+x} ${E+x} ${U+x}', 'x  x '],
    ['\\$V', '$V'],
    ["'$V'", '$V'],
    ['"$V \\$V"', 'v $V'],
    ['${U:-${V}}', 'v'],
  ])('%s -> %s', (text, want) => expect(expandWord(text, s)).toBe(want))
  it('splits on unquoted whitespace only', () => expect(expandWords('a "b c" d\\ e', s)).toEqual(['a', 'b c', 'd e']))
  it('${V:?msg} fails with the line', () => expect(() => expandWord('${U:?need U}', s)).toThrow(expect.objectContaining({ code: 'EDOCKERFILE', line: 7 })))
})

describe('.dockerignore', () => {
  it('matches *, ** and parents, with ! exceptions', () => {
    const r = new IgnoreRules('# c\n*.md\n!README.md\nnode_modules\n**/*.log\n')
    expect(['a.md', 'README.md', 'node_modules/x/y', 'deep/a/b.log', 'src/a.md'].map((p) => r.ignores(p))).toEqual([true, false, true, true, false])
  })
})
