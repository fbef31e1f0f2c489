/** Durations printed as Go's time.Duration does, for Docker's health check messages. */
import { goDuration } from '../../lib/util/go-duration'

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
