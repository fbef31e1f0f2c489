/**
 * Identifiers: 64-hex ids like Docker's, and Docker-style generated names.
 * @module
 */
import { randomBytes } from 'node:crypto'

/** A new random 64-hex-digit id. */
export function newId(): string {
  return randomBytes(32).toString('hex')
}

const adjectives = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet', 'sharp', 'tender', 'vivid', 'witty', 'zen']
const nouns = ['turing', 'hopper', 'lovelace', 'ritchie', 'thompson', 'torvalds', 'knuth', 'dijkstra', 'liskov', 'hamilton', 'kay', 'lamport', 'pike', 'wirth', 'backus', 'mccarthy']

function pick<T>(list: T[]): T {
  return list[randomBytes(1)[0] % list.length]
}

/** A Docker-style generated name such as `keen_lovelace_3f2a`. */
export function generateName(): string {
  return `${pick(adjectives)}_${pick(nouns)}_${randomBytes(2).toString('hex')}`
}

/** Docker's rule for container, volume and network names. */
export const validName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
