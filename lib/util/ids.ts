/**
 * Identifiers: 64-hex ids like Docker's, and Docker-style generated names.
 * @module
 */
import { randomByte, randomHex } from './random-pool'

/** A new random 64-hex-digit id. */
export function newId(): string {
  return randomHex(32)
}

const adjectives = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet', 'sharp', 'tender', 'vivid', 'witty', 'zen']
const nouns = ['turing', 'hopper', 'lovelace', 'ritchie', 'thompson', 'torvalds', 'knuth', 'dijkstra', 'liskov', 'hamilton', 'kay', 'lamport', 'pike', 'wirth', 'backus', 'mccarthy']

function pick<T>(list: T[]): T {
  return list[randomByte() % list.length]!
}

/** A Docker-style generated name such as `keen_lovelace_3f2a`. */
export function generateName(): string {
  return `${pick(adjectives)}_${pick(nouns)}_${randomHex(2)}`
}

/** Docker's rule for container, volume and network names. */
export const validName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
