/**
 * Which pasta builds lose simultaneous TCP closes (egress-choice.ts): Debian 12's, which names no
 * release, and releases up to its snapshot's day; later releases are trusted.
 */
import { pastaLosesSimultaneousCloses } from '../../lib/rootless/egress-choice'

test("Debian 12's pasta (no release named) and releases up to 2023-03-09 lose simultaneous closes; later ones do not", () => {
  for (const lossy of ['pasta unknown version', 'pasta 2023_03_09.7c7625d', 'pasta 2022_11_16.ace074c', 'pasta 0.0~git20230309.7c7625d-1'])
    expect([lossy, pastaLosesSimultaneousCloses(lossy)]).toEqual([lossy, true])
  for (const fine of ['pasta 2023_06_03.429e1a7', 'pasta 2025_01_21.4f2c8e7', 'pasta 0.0~git20250503.587980c-2'])
    expect([fine, pastaLosesSimultaneousCloses(fine)]).toEqual([fine, false])
})
