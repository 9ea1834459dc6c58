// Types of tools/arrow-this.cjs for the tests (tools/ stays plain JavaScript run by node).

export function arrowsLosingThis(text: string): { from: number; to: number }[];
export function blockArrowBodies(text: string): { text: string; rewritten: number };
