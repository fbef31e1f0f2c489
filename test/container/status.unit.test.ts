/**
 * The lifecycle table (lib/container/status.ts): every (status, operation)
 * pair, and the error each refusal throws. Written out in full here, so a
 * change to one answer is a change to this table too.
 */
import { ContainerNotFoundError, NotRunningError, PausedError, RunningError } from '../../lib/errors'
import { ask, can, pauseMatters, refusal, runs, verdict, type Operation, type Status, type Verdict } from '../../lib/container/status'

const statuses: Status[] = ['created', 'running', 'paused', 'exited', 'removed']
const operations: Operation[] = ['start', 'kill', 'stop', 'pause', 'unpause', 'exec', 'top', 'stats', 'update', 'remove', 'forceRemove']

const go = 'proceed'
const noop = 'nothing-to-do'
const NR = 'ENOTRUNNING'
const NC = 'ENOCONTAINER'

// prettier-ignore
const expected: Record<Operation, [created: Verdict, running: Verdict, paused: Verdict, exited: Verdict, removed: Verdict]> = {
  start:       [go,   noop,       noop,       go,   NC],
  kill:        [NR,   go,         go,         NR,   NC],
  stop:        [noop, go,         go,         noop, NC],
  pause:       [NR,   go,         'EPAUSED',  NR,   NC],
  unpause:     [NR,   'EPAUSED',  go,         NR,   NC],
  exec:        [NR,   go,         'EPAUSED',  NR,   NC],
  top:         [NR,   go,         go,         NR,   NC],
  stats:       [NR,   go,         go,         NR,   NC],
  update:      [go,   go,         go,         go,   NC],
  remove:      [go,   'ERUNNING', 'ERUNNING', go,   NC],
  forceRemove: [go,   go,         go,         go,   NC],
}

const subject = { id: 'f'.repeat(64), name: 'table' }
const errorClass = { ENOTRUNNING: NotRunningError, EPAUSED: PausedError, ERUNNING: RunningError, ENOCONTAINER: ContainerNotFoundError } as const

describe.each(operations)('%s', (op) => {
  test.each(statuses.map((s, i) => [s, expected[op][i]] as const))('when %s: %s', (status, answer) => {
    expect(verdict(op, status)).toBe(answer)
    expect(can(op, status)).toBe(answer === go)
    const err = refusal(op, status, subject)
    if (answer === go || answer === noop) {
      expect(err).toBeUndefined()
      expect(ask(op, status, subject)).toBe(answer)
    } else {
      expect(err).toBeInstanceOf(errorClass[answer])
      expect(err).toMatchObject({ code: answer })
      expect(() => ask(op, status, subject)).toThrow(err!.message)
    }
  })
})

test('refusals say what was attempted and what to do, as before the table', () => {
  expect(refusal('exec', 'exited', subject)!.message).toBe('cannot exec: container ffffffffffff is not running (start it first)')
  expect(refusal('top', 'created', subject)!.message).toContain('cannot list the processes of')
  expect(refusal('stats', 'created', subject)!.message).toContain('cannot read stats')
  expect(refusal('pause', 'paused', subject)!.message).toBe('container ffffffffffff is already paused')
  expect(refusal('unpause', 'running', subject)!.message).toBe('container ffffffffffff is not paused')
  expect(refusal('exec', 'paused', subject)!.message).toBe('container ffffffffffff is paused: unpause it before exec')
  expect(refusal('remove', 'running', subject)!.message).toContain('stop it first or pass { force: true }')
  expect(refusal('kill', 'removed', subject)!.message).toBe('no such container: table (it was removed)')
})

test('a paused container runs; the freezer is read only for the operations it changes', () => {
  expect(statuses.filter(runs)).toEqual(['running', 'paused'])
  expect(operations.filter(pauseMatters)).toEqual(['pause', 'unpause', 'exec'])
})
