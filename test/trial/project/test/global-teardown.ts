// test/global-teardown.ts, as the README's jest setup has it.
import { Runtime } from 'minicontainer'

export default async function globalTeardown(): Promise<void> {
  await Runtime.default().close()   // the default bridge and its firewall table, like docker0 otherwise
}
