import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The vendored OCSF schema files (this folder), compiled the way the OCSF
 * server compiles the repository: a class or object inherits its parent's
 * attributes (`extends`), pulls in `$include` files (profiles and includes),
 * and each attribute's definition is the dictionary's, deep-merged with what
 * the class or object says about it. Attributes that arrive through a profile
 * file carry that profile's name, unless the including definition sets
 * `"profile": null` (as Authentication does for `actor`).
 */
export const SCHEMA_DIR = dirname(fileURLToPath(import.meta.url));

export interface EnumValue { caption: string }
export interface Attribute {
  name: string;
  type: string;
  isArray: boolean;
  requirement: 'required' | 'recommended' | 'optional';
  enum?: Record<string, EnumValue>;
  sibling?: string;
  profile?: string | null;
}
export interface Constraints { at_least_one?: string[]; just_one?: string[] }
export interface Compiled {
  name: string;
  caption: string;
  attributes: Map<string, Attribute>;
  constraints: Constraints;
}
export interface EventClass extends Compiled { uid: number; categoryUid: number; categoryCaption: string }
export interface TypeDef { type?: string; regex?: string; max_len?: number; range?: [number, number]; values?: unknown[] }

type Raw = Record<string, unknown>;
type RawAttr = Raw & { enum?: Record<string, EnumValue>; profile?: string | null };

const read = (rel: string): Raw => JSON.parse(readFileSync(join(SCHEMA_DIR, rel), 'utf8')) as Raw;

/** Deep merge of two attribute definitions: enum maps are unioned, everything else the later one wins. */
function mergeAttr(base: RawAttr | undefined, over: RawAttr): RawAttr {
  if (!base) return { ...over };
  const merged: RawAttr = { ...base, ...over };
  if (base.enum || over.enum) merged.enum = { ...base.enum, ...over.enum };
  return merged;
}

export class OcsfSchema {
  readonly version: string;
  readonly types: Record<string, TypeDef>;
  readonly profiles: Set<string>;
  private readonly dictionary: Record<string, RawAttr>;
  private readonly categories: Record<string, { caption: string; uid: number }>;
  private readonly objectFiles = new Map<string, string>();
  private readonly objectCache = new Map<string, Compiled>();
  private readonly classes = new Map<number, EventClass>();

  constructor(classFiles: string[], objectNames: string[], profileNames: string[]) {
    this.version = (read('version.json') as { version: string }).version;
    const dict = read('dictionary.json') as { attributes: Record<string, RawAttr>; types: { attributes: Record<string, TypeDef> } };
    this.dictionary = dict.attributes;
    this.types = dict.types.attributes;
    this.categories = (read('categories.json') as { attributes: Record<string, { caption: string; uid: number }> }).attributes;
    this.profiles = new Set(profileNames);
    for (const o of objectNames) this.objectFiles.set(o, `objects/${o}.json`);
    for (const f of classFiles) {
      const c = this.compileClass(f);
      this.classes.set(c.uid, c);
    }
  }

  eventClass(uid: number): EventClass | undefined {
    return this.classes.get(uid);
  }

  isObject(type: string): boolean {
    return type === 'object' || this.objectFiles.has(type) || !(type in this.types);
  }

  /** A compiled object, or undefined when this object's file was not vendored. */
  object(name: string): Compiled | undefined {
    const cached = this.objectCache.get(name);
    if (cached) return cached;
    const raw = this.objectRaw(name);
    if (!raw) return undefined;
    const compiled: Compiled = { name, caption: raw.caption, attributes: this.finish(raw.attrs), constraints: raw.constraints };
    this.objectCache.set(name, compiled);
    return compiled;
  }

  /** An object's attributes before the dictionary is merged in, with its parents' (`extends`) under its own. */
  private objectRaw(name: string): { caption: string; attrs: Map<string, RawAttr>; constraints: Constraints } | undefined {
    const file = this.objectFiles.get(name);
    if (!file) return undefined;
    const raw = read(file);
    const parent = typeof raw.extends === 'string' ? this.objectRaw(raw.extends) : undefined;
    if (typeof raw.extends === 'string' && !parent) throw new Error(`OCSF object ${raw.extends} (parent of ${name}) is not vendored`);
    return {
      caption: String(raw.caption ?? name), attrs: this.rawAttributes(raw, parent?.attrs ?? new Map()),
      constraints: { ...parent?.constraints, ...(raw.constraints as Constraints | undefined) },
    };
  }

  private compileClass(file: string): EventClass {
    const chain: Raw[] = [];
    for (let raw: Raw | undefined = read(file); raw; ) {
      chain.unshift(raw);
      raw = typeof raw.extends === 'string' ? read(this.classFile(raw.extends)) : undefined;
    }
    let attrs = new Map<string, RawAttr>();
    let constraints: Constraints = {};
    let category = 'other';
    for (const raw of chain) {
      attrs = this.rawAttributes(raw, attrs);
      constraints = { ...constraints, ...(raw.constraints as Constraints | undefined) };
      if (typeof raw.category === 'string') category = raw.category;
    }
    const leaf = chain[chain.length - 1]!;
    const cat = this.categories[category];
    const categoryUid = cat?.uid ?? 0;
    const uid = leaf.uid === undefined ? 0 : categoryUid * 1000 + Number(leaf.uid);
    const caption = String(leaf.caption);
    const compiled: EventClass = {
      name: String(leaf.name), caption, attributes: this.finish(attrs), constraints, uid, categoryUid, categoryCaption: cat?.caption ?? 'Uncategorized',
    };
    // The server fills these enums from the class and the category list.
    compiled.attributes.get('class_uid')!.enum = { [uid]: { caption } };
    compiled.attributes.get('category_uid')!.enum = { [categoryUid]: { caption: compiled.categoryCaption } };
    return compiled;
  }

  /** The class files this schema copy knows, by class name (`extends` names a class, not a file). */
  private classFile(name: string): string {
    const known: Record<string, string> = {
      base_event: 'events/base_event.json', network: 'events/network/network.json', application: 'events/application/application.json',
      iam: 'events/iam/iam.json',
    };
    const file = known[name];
    if (!file) throw new Error(`OCSF class ${name} is not vendored`);
    return file;
  }

  /** Parent attributes, then each `$include` file's, then the definition's own, merged in that order. */
  private rawAttributes(raw: Raw, inherited: Map<string, RawAttr>): Map<string, RawAttr> {
    const attrs = new Map(inherited);
    const own = (raw.attributes ?? {}) as Record<string, RawAttr | string[]>;
    for (const inc of (own.$include as string[] | undefined) ?? []) {
      const file = read(inc);
      const profile = file.meta === 'profile' ? String(file.name) : undefined;
      for (const [k, v] of Object.entries((file.attributes ?? {}) as Record<string, RawAttr>)) {
        const tagged = profile !== undefined && !('profile' in v) ? { ...v, profile } : v;
        attrs.set(k, mergeAttr(attrs.get(k), tagged));
      }
    }
    for (const [k, v] of Object.entries(own)) {
      if (k === '$include') continue;
      attrs.set(k, mergeAttr(attrs.get(k), v as RawAttr));
    }
    return attrs;
  }

  private finish(raw: Map<string, RawAttr>): Map<string, Attribute> {
    const out = new Map<string, Attribute>();
    for (const [name, local] of raw) {
      const dict = this.dictionary[name];
      if (!dict) throw new Error(`OCSF attribute ${name} is not in the dictionary`);
      const a = mergeAttr(dict, local);
      out.set(name, {
        name, type: String(a.type), isArray: a.is_array === true, requirement: (a.requirement as Attribute['requirement'] | undefined) ?? 'optional',
        ...(a.enum ? { enum: a.enum } : {}), ...(typeof a.sibling === 'string' ? { sibling: a.sibling } : {}),
        ...(a.profile !== undefined ? { profile: a.profile } : {}),
      });
    }
    return out;
  }
}
