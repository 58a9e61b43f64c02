import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stderr. Secrets never reach the logger: tokens, passwords and
 * keys are redacted by path as a second line of defence.
 */
export function createLogger(level = process.env.HOPSCOPE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: 'hopscope',
    level,
    redact: { paths: ['token', 'password', '*.token', '*.password', 'privateKey', '*.privateKey'], censor: '[redacted]' },
  }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
