// Whether this build keeps diagnostic counters (the link's, the frame reader's, the card
// reader's and the T=1 terminal's `stats`). The host and the tests read them; nothing on the
// board does, and each counter is code in flash and JsVars in RAM. The firmware build
// (tools/build.mjs, inlineConstants) writes `false` for every use of COUNTED (import it alone:
// `import { COUNTED } from './counting';`), and esbuild folds every `if (COUNTED) …` away.
// What the counted code does is the same in both builds.
export const COUNTED: boolean = true;
