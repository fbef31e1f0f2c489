/**
 * Turning a root filesystem (a directory, or a tar / tar.gz / tar.zst
 * archive) into a stored layer.
 *
 * A directory is walked into a layer tar (entries sorted, file contents
 * included), so the layer's diffID is the digest of the files' bytes as
 * well as their names and metadata: two trees that differ only in content
 * get two layers. The archive is untrusted: it is unpacked by the store's
 * confined extractor.
 *
 * @module
 */
import * as fs from 'node:fs'
import { layerFromUpper } from '../files/diff'
import { decompressed } from '../files/tar-streams'
import type { LayerStore } from './layers'

/** Stores a directory tree as a layer; returns its diffID. */
export function importDirectory(layers: LayerStore, src: string): Promise<string> {
  // An upper dir walk on a plain tree is a plain layer walk: it has no whiteouts to translate.
  return layers.addTar(layerFromUpper(src))
}

/** Stores a tar, tar.gz or tar.zst file as a layer; returns its diffID (the digest of the uncompressed tar). */
export function importArchive(layers: LayerStore, file: string): Promise<string> {
  return layers.addTar(decompressed(fs.createReadStream(file)))
}
