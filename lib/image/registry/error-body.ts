/**
 * What an error answer of a registry or token service says, read with a
 * bound: its body can be anything a peer chooses to send, endless
 * included, so at most {@link ERROR_BODY_MAX} bytes are read and only a
 * short, single-line excerpt reaches a message.
 *
 * @module
 */
import type { HttpResponse } from './http'

/** Bytes of an error body read at most (registries send a few hundred: {"errors":[...]}). */
export const ERROR_BODY_MAX = 4 << 10
/** Characters of an error body quoted in a message at most. */
const EXCERPT_CHARS = 300

/** `text` on one line (control characters, escapes included, become spaces), cut to a short excerpt; "…" marks a cut. */
export function excerpt(text: string, cut = false): string {
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim()
  return line.length > EXCERPT_CHARS ? `${line.slice(0, EXCERPT_CHARS)}…` : `${line}${cut && line ? '…' : ''}`
}

/** The registry's error codes and messages from an error response body ({"errors":[{code,message}]}), else an excerpt of its text. */
export async function errorDetail(res: HttpResponse): Promise<string> {
  const { bytes, complete } = await res.read(ERROR_BODY_MAX).catch(() => ({ bytes: Buffer.alloc(0), complete: false }))
  const text = bytes.toString('utf8')
  if (complete) {
    try {
      const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors
      if (Array.isArray(errors) && errors.length) return excerpt(errors.map((e) => [e?.code, e?.message].filter((v) => typeof v === 'string' && v).join(': ')).join('; '))
    } catch {
      /* not JSON: keep the text */
    }
  }
  return excerpt(text, !complete)
}
