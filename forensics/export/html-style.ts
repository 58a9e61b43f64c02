export const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * The report's stylesheet. Nothing may run past the page: code (hashes, session ids, paths, SQL)
 * and free text cells (`td.text`: messages, reasons) break anywhere, preformatted text wraps,
 * tables take the page's width and no more, and the graph scales down to fit. Other cells break
 * long words only when nothing else fits (break-word), so short words and times stay whole.
 */
export const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2430;overflow-wrap:break-word}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5em 0;max-width:100%}td,th{border:1px solid #ccd;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:break-word}td.text{overflow-wrap:anywhere}th{background:#eef1f7}.nowrap{white-space:nowrap}
.bad{color:#b00020;font-weight:600}.ok{color:#17653a}pre{background:#f6f7fa;padding:.75em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px}code{font-size:12px;overflow-wrap:anywhere}
svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif}svg text.badge{font-weight:700;font-size:10px}
.badge{display:inline-block;padding:0 .45em;border-radius:.8em;background:#b00020;color:#fff;font-size:11px;font-weight:700;white-space:nowrap}
.answers dt{font-weight:600;margin-top:.5em}.answers dd{margin-left:1.5em}
table.timeline{width:100%}table.timeline td:first-child{white-space:nowrap}tr.revoked td,tr.refused td{background:#fdecee}tr.block td,tr.denied td,tr.timeout td{background:#fff4e5}`;
