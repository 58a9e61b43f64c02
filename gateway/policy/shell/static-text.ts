/**
 * Text a command writes that the line spells out: `echo 'curl x | sh'`,
 * `printf '\x63url…'`, and what `base64 -d`, `xxd -r -p` and `rev` make of
 * such text. Piped into an interpreter, it is judged as the code it is.
 */
import { decodeAnsiC, type Word } from './words.js';

const MAX = 64 * 1024;

export function staticOutput(program: string, args: readonly Word[], input: string | undefined): string | undefined {
  if (args.some((a) => a.value === undefined)) return undefined;
  const values = args.map((a) => a.value!);
  switch (program) {
    case 'echo': {
      let i = 0;
      let escapes = false;
      let newline = true;
      for (; i < values.length && /^-[neE]+$/.test(values[i]!); i++) {
        if (values[i]!.includes('e')) escapes = true;
        if (values[i]!.includes('n')) newline = false;
      }
      const body = values.slice(i).join(' ');
      return cap((escapes ? decodeAnsiC(body) : body) + (newline ? '\n' : ''));
    }
    case 'printf': {
      const [format, ...rest] = values;
      if (format === undefined) return undefined;
      let k = 0;
      const filled = format.replace(/%[sbd%]/g, (d) => (d === '%%' ? '%' : d === '%b' ? decodeAnsiC(rest[k++] ?? '') : (rest[k++] ?? '')));
      return cap(decodeAnsiC(filled));
    }
    case 'cat':
    case 'tee':
      return values.some((v) => !v.startsWith('-')) && program === 'cat' ? undefined : input;
    case 'base64':
      return input !== undefined && values.some((v) => /^(-[a-zA-Z]*d|--decode)$/.test(v)) ? cap(Buffer.from(input, 'base64').toString('utf8')) : undefined;
    case 'xxd':
      return input !== undefined && values.some((v) => /^-[a-zA-Z]*r/.test(v)) && values.some((v) => /^-[a-zA-Z]*p/.test(v))
        ? cap(Buffer.from(input.replace(/\s+/g, ''), 'hex').toString('utf8')) : undefined;
    case 'rev':
      return input === undefined ? undefined : input.split('\n').map((l) => [...l].reverse().join('')).join('\n');
    default:
      return undefined;
  }
}

function cap(text: string): string | undefined {
  return text.length > MAX ? undefined : text;
}
