'use strict'
const { Container } = require('minicontainer')

test('both services are the reused, detached containers globalSetup started', async () => {
  for (const name of ['jest-example-redis', 'jest-example-nginx']) {
    const info = await (await Container.get(name)).inspect()
    expect(info.state.running).toBe(true)
    expect(info.hostConfig.detach).toBe(true)
  }
})
