/** Several compose files merged by the Compose Specification's rules. */
import { mergeFiles } from '../../lib/compose/merge'

test('services merge key by key; maps by key, whatever their form; some lists unite, mounts merge by target, commands are replaced', () => {
  const base = {
    services: {
      api: { image: 'a:1', command: ['x'], environment: ['A=1', 'B=2'], ports: ['80'], volumes: ['./a:/a', 'v:/v'], depends_on: ['db'], healthcheck: { test: ['CMD', 'a'], retries: 2 } },
      db: { image: 'db' },
    },
    volumes: { v: {} },
  }
  const over = {
    services: { api: { image: 'a:2', command: ['y', 'z'], environment: { B: '3', C: '4' }, ports: ['80', '81'], volumes: ['./b:/a'], depends_on: { cache: { condition: 'service_started' } }, healthcheck: { interval: '1s' } }, cache: { image: 'c' } },
    networks: { n: {} },
  }
  expect(mergeFiles([base, over])).toEqual({
    services: {
      api: {
        image: 'a:2', command: ['y', 'z'], environment: { A: '1', B: '3', C: '4' }, ports: ['80', '81'], volumes: ['v:/v', './b:/a'],
        depends_on: { db: null, cache: { condition: 'service_started' } }, healthcheck: { test: ['CMD', 'a'], retries: 2, interval: '1s' },
      },
      db: { image: 'db' },
      cache: { image: 'c' },
    },
    volumes: { v: {} },
    networks: { n: {} },
  })
})
