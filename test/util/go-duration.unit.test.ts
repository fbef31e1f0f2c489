/** Durations printed as Go's time.Duration does, for Docker's health check messages. */
import { goDuration, parseGoDuration } from '../../lib/util/go-duration'

test.each([
  [0, '0s'],
  [0.0005, '500ns'],
  [0.0015, '1.5µs'],
  [100, '100ms'],
  [1.5, '1.5ms'],
  [1000, '1s'],
  [1500, '1.5s'],
  [30_000, '30s'],
  [90_000, '1m30s'],
  [3_600_000, '1h0m0s'],
  [3_723_500, '1h2m3.5s'],
])('%p ms is %s', (ms, text) => {
  expect(goDuration(ms)).toBe(text)
})

test.each([
  ['0', 0],
  ['100ms', 100e6],
  ['1m30s', 90e9],
  ['1.5h', 5400e9],
  ['.5s', 500e6],
  ['-2s', -2e9],
  ['3µs', 3e3],
  ['10', undefined],
  ['1d', undefined],
  ['', undefined],
])('parseGoDuration(%j) is %p ns', (text, ns) => {
  expect(parseGoDuration(text)).toBe(ns)
})
