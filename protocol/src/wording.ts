// Whether this build words its refusals in English. The host's does: its errors carry
// messages people read. The firmware's does not: its ERROR replies carry only the code and
// the path (SPEC.md §5.14, the host words them), so every message text written
// `WORDED ? '…' : ''` would be dead weight in the board's flash. The firmware build
// (tools/build.mjs, inlineConstants) writes `false` for every use of WORDED (import it alone:
// `import { WORDED } from './wording';`), and esbuild folds the texts away. The error codes
// and paths are the same in both builds.
export const WORDED: boolean = true;
