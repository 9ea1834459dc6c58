// Types of tools/intern-strings.cjs for the tests (tools/ stays plain JavaScript run by node).

export function internStrings(text: string, opts: { minGain: number; max: number }): { text: string; declarations: string; interned: { name: string; value: string; uses: number; gain: number }[] };
