/** `since`/`until` in every form `docker logs` takes, as the log's fixed-width record times. */
import { formatLogTime, logTime, logTimeNs } from '../../lib/util/log-time'

const now = Date.parse('2026-12-01T15:00:00.000Z')

test('record times: nine fraction digits, UTC, so they compare as text in time order', () => {
  expect(formatLogTime(1_764_601_200_123_456_789n)).toBe('2025-12-01T15:00:00.123456789Z')
  expect(formatLogTime(5n)).toBe('1970-01-01T00:00:00.000000005Z')
  expect(formatLogTime(-1n)).toBe('1970-01-01T00:00:00.000000000Z')
  expect(formatLogTime(2_000_000_000n) < formatLogTime(10_000_000_000n)).toBe(true)
})

test('a Date and unix seconds (number or string, with a fraction up to nanoseconds)', () => {
  expect(logTime(new Date('2026-12-01T15:00:00.250Z'), 'since')).toBe('2026-12-01T15:00:00.250000000Z')
  expect(logTime(1764601200.5, 'since')).toBe('2025-12-01T15:00:00.500000000Z')
  expect(logTime('1764601200.123456789', 'since')).toBe('2025-12-01T15:00:00.123456789Z')
  expect(logTime('1764601200', 'since')).toBe('2025-12-01T15:00:00.000000000Z')
  // Docker reads "0" as the epoch, not as a zero duration.
  expect(logTimeNs('0', 'since', now)).toBe(0n)
})

test("Go durations count back from now: '10m', '1h30m', '1.5h', '500ms'", () => {
  const ms = (v: string) => Number(logTimeNs(v, 'since', now) / 1_000_000n)
  expect(ms('10m')).toBe(now - 600_000)
  expect(ms('1h30m')).toBe(now - 5_400_000)
  expect(ms('1.5h')).toBe(now - 5_400_000)
  expect(ms('500ms')).toBe(now - 500)
  expect(ms('-1m')).toBe(now + 60_000)
})

test('RFC 3339 with a zone or offset, with or without fraction; without a zone it is local time, as in Docker', () => {
  expect(logTime('2026-12-01T15:00:00Z', 'since')).toBe('2026-12-01T15:00:00.000000000Z')
  expect(logTime('2026-12-01T15:00:00.000000001Z', 'since')).toBe('2026-12-01T15:00:00.000000001Z')
  expect(logTime('2026-12-01T16:00:00+01:00', 'since')).toBe('2026-12-01T15:00:00.000000000Z')
  const local = new Date(2026, 11, 1, 15, 0, 0)
  expect(logTimeNs('2026-12-01T15:00:00', 'since')).toBe(BigInt(local.getTime()) * 1_000_000n)
  expect(logTimeNs('2026-12-01T15:00', 'since')).toBe(BigInt(local.getTime()) * 1_000_000n)
  expect(logTimeNs('2026-12-01', 'since')).toBe(BigInt(new Date(2026, 11, 1).getTime()) * 1_000_000n)
})

test('anything else is EINVALID, naming the option and the forms it takes', () => {
  for (const bad of ['yesterday', '10 minutes', '2026-13-45', '', 'm', NaN, -1, new Date(NaN)])
    expect(() => logTime(bad as string, 'until')).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringMatching(/^until/) }))
})
