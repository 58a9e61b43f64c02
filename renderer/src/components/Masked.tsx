import type { ReactNode } from 'react';

const TOKEN = /\[masked:([^\]\s]{1,64})\]/g;

/** Text with the gateway's mask tokens (`[masked:rule]`) drawn as visible chips naming the rule. */
export function Masked({ text }: { text: string }) {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(<span key={m.index} className="masked-value" data-testid="masked-value" title={`masked by the gateway, rule ${m[1]}`}>▒ {m[1]}</span>);
    last = m.index + m[0].length;
  }
  if (parts.length === 0) return <>{text}</>;
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}
