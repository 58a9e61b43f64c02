import { HopscopeError } from '../../common/errors.js';

export function regex(source: string, flags: string, where: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw configError(`${where}: invalid regular expression: ${(err as Error).message}`);
  }
}

/** `*` matches any run of characters, `?` one; case-insensitive, whole name. */
export function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export function configError(message: string): HopscopeError {
  return new HopscopeError('CONFIG_INVALID', message);
}
