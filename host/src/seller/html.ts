// Server-rendered HTML with escaping by construction (the tag itself is services/html.ts, which
// the agent's pages share): pages are written with the `html`
// template tag, which escapes every interpolated value unless it is already SafeHtml (made
// by this tag). Attribute values are always written in double quotes in the templates, and
// escaping covers & < > " ' — so text from the catalogue, the buyer or the checkout handler
// cannot open a tag or leave an attribute. URLs from outside go through `safeLink` first.

export { SafeHtml, escapeHtml, html } from '../services/html';
export type { HtmlValue } from '../services/html';

/**
 * A URL from outside (a receipt URL from the checkout handler) as a link target, or undefined
 * when it is not http(s) or a path on this site: `javascript:` and `data:` never become links.
 */
export function safeLink(url: string): string | undefined {
  if (typeof url !== 'string' || url.length > 2048) return undefined;
  if (/^\/(?![/\\])/.test(url)) return url; // a path here, not "//host" (scheme-relative)
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch (_e) {
    return undefined;
  }
}

/** A path with query parameters, each encoded (undefined and '' are left out). */
export function pathWith(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
