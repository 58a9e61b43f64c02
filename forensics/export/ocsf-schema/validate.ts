import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OcsfSchema, SCHEMA_DIR, type Attribute, type Compiled, type TypeDef } from './compile.js';

/**
 * Checks an OCSF event against the vendored schema's class and object
 * definitions, as the OCSF server's validator does: the class exists and
 * category_uid / type_uid agree with it; metadata.version is the schema's;
 * every attribute is defined by the class or object (nothing unknown); every
 * required attribute is present; at_least_one / just_one constraints hold;
 * values have their attribute's type (primitive, derived type's regex / range /
 * max_len, object, array); enum attributes hold a defined value, their sibling
 * string names its caption (and is given for 99 "Other"); and every attribute
 * that comes from a profile has that profile in metadata.profiles.
 */
const CLASS_FILES = [
  'events/base_event.json', 'events/network/ssh.json', 'events/application/datastore_activity.json',
  'events/application/application_lifecycle.json', 'events/iam/authentication.json', 'events/iam/account_change.json',
];

let loaded: OcsfSchema | undefined;
export function vendoredSchema(): OcsfSchema {
  const names = (dir: string) => readdirSync(join(SCHEMA_DIR, dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  loaded ??= new OcsfSchema(CLASS_FILES, names('objects'), names('profiles'));
  return loaded;
}

type Json = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly errors: string[] = [];
  readonly usedProfiles = new Map<string, string>(); // profile -> first attribute path that needs it

  /** `declared`: metadata.profiles; a profile's required attributes are required only when it is declared. */
  constructor(private readonly schema: OcsfSchema, private readonly declared: Set<string>) {}

  fail(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }

  /** An object (or the event) against its compiled definition. */
  entity(value: Json, def: Compiled, path: string): void {
    for (const [k, v] of Object.entries(value)) {
      const a = def.attributes.get(k);
      const at = path ? `${path}.${k}` : k;
      if (!a) {
        this.fail(at, `not an attribute of ${def.name}`);
        continue;
      }
      if (v === null || v === undefined) {
        this.fail(at, 'null (leave the attribute out instead)');
        continue;
      }
      if (a.profile && !this.usedProfiles.has(a.profile)) this.usedProfiles.set(a.profile, at);
      this.attribute(v, a, at);
      if (a.enum && a.sibling && !Array.isArray(v)) this.sibling(value, a, v, path);
    }
    for (const a of def.attributes.values()) {
      if (a.profile && !this.declared.has(a.profile)) continue;
      if (a.requirement === 'required' && (value[a.name] === undefined || value[a.name] === null)) this.fail(path || def.name, `required attribute ${a.name} is missing`);
    }
    const present = (names: string[]) => names.filter((n) => value[n] !== undefined && value[n] !== null);
    const { at_least_one: atLeastOne, just_one: justOne } = def.constraints;
    if (atLeastOne?.length && present(atLeastOne).length === 0) this.fail(path || def.name, `${def.name} needs at least one of ${atLeastOne.join(', ')}`);
    if (justOne?.length && present(justOne).length !== 1) this.fail(path || def.name, `${def.name} needs exactly one of ${justOne.join(', ')}`);
  }

  private sibling(owner: Json, a: Attribute, id: unknown, path: string): void {
    const at = path ? `${path}.${a.sibling!}` : a.sibling!;
    const given = owner[a.sibling!];
    const caption = a.enum![String(id)]?.caption;
    if (Number(id) === 99 && (typeof given !== 'string' || given === '')) this.fail(at, `${a.name} is 99 (Other): ${a.sibling!} must say what it is`);
    else if (given !== undefined && Number(id) !== 99 && caption !== undefined && given !== caption) this.fail(at, `"${String(given)}" is not the caption of ${a.name} ${String(id)} ("${caption}")`);
  }

  private attribute(v: unknown, a: Attribute, at: string): void {
    if (a.isArray) {
      if (!Array.isArray(v)) return this.fail(at, `must be an array of ${a.type}`);
      v.forEach((item, i) => this.value(item, a, `${at}[${i}]`));
    } else if (Array.isArray(v)) this.fail(at, `must be a single ${a.type}, not an array`);
    else this.value(v, a, at);
  }

  private value(v: unknown, a: Attribute, at: string): void {
    if (this.schema.isObject(a.type)) {
      if (!isPlainObject(v)) return this.fail(at, `must be an object (${a.type})`);
      if (a.type === 'object') return; // a free-form object (unmapped)
      const def = this.schema.object(a.type);
      if (!def) return this.fail(at, `object ${a.type} is not vendored in ${SCHEMA_DIR}`);
      return this.entity(v, def, at);
    }
    this.primitive(v, a.type, at);
    if (a.enum && !(String(v) in a.enum)) this.fail(at, `${JSON.stringify(v)} is not one of ${a.name}'s values (${Object.keys(a.enum).join(', ')})`);
  }

  /** A derived type is checked against its own regex/range/length and then as its base type. */
  private primitive(v: unknown, type: string, at: string): void {
    const def: TypeDef | undefined = this.schema.types[type];
    if (!def) return this.fail(at, `unknown type ${type}`);
    switch (type) {
      case 'string_t': if (typeof v !== 'string') return this.fail(at, `must be a string, not ${typeof v}`); break;
      case 'integer_t': if (!Number.isInteger(v) || Math.abs(v as number) > 2 ** 31) return this.fail(at, `must be a 32-bit integer: ${JSON.stringify(v)}`); break;
      case 'long_t': if (!Number.isSafeInteger(v)) return this.fail(at, `must be an integer: ${JSON.stringify(v)}`); break;
      case 'float_t': if (typeof v !== 'number' || !Number.isFinite(v)) return this.fail(at, `must be a number: ${JSON.stringify(v)}`); break;
      case 'boolean_t': if (typeof v !== 'boolean') return this.fail(at, `must be true or false: ${JSON.stringify(v)}`); break;
      case 'json_t': break;
      default: if (!def.type) return this.fail(at, `type ${type} has no base type`);
    }
    if (def.type) this.primitive(v, def.type, at);
    if (typeof v === 'string') {
      if (def.max_len !== undefined && v.length > def.max_len) this.fail(at, `longer than ${def.max_len} (${type})`);
      if (def.regex && !new RegExp(def.regex).test(v)) this.fail(at, `"${v}" is not a ${type}`);
    }
    if (typeof v === 'number' && def.range && (v < def.range[0] || v > def.range[1])) this.fail(at, `${v} is out of ${type}'s range ${def.range.join('..')}`);
  }
}

/** The problems of one event (empty when it is valid). */
export function validateOcsfEvent(event: unknown, schema = vendoredSchema()): string[] {
  if (!isPlainObject(event)) return ['the event is not a JSON object'];
  const cls = schema.eventClass(Number(event.class_uid));
  if (!cls) return [`class_uid ${String(event.class_uid)} is not a class of the vendored schema`];
  const metadata = isPlainObject(event.metadata) ? event.metadata : {};
  const declared = new Set(Array.isArray(metadata.profiles) ? (metadata.profiles as unknown[]).map(String) : []);
  const check = new Checker(schema, declared);
  check.entity(event, cls, '');
  if (event.category_uid !== cls.categoryUid) check.fail('category_uid', `${String(event.category_uid)} is not ${cls.name}'s category ${cls.categoryUid}`);
  const activity = Number(event.activity_id);
  if (event.type_uid !== cls.uid * 100 + activity) check.fail('type_uid', `must be class_uid * 100 + activity_id = ${cls.uid * 100 + activity}`);
  const activityCaption = cls.attributes.get('activity_id')?.enum?.[String(activity)]?.caption;
  const typeName = activity === 99 ? undefined : `${cls.caption}: ${activityCaption ?? ''}`;
  if (event.type_name !== undefined && typeName !== undefined && event.type_name !== typeName) check.fail('type_name', `must be "${typeName}"`);
  if (metadata.version !== schema.version) check.fail('metadata.version', `declares ${String(metadata.version)}; this schema is ${schema.version}`);
  for (const p of declared) if (!schema.profiles.has(p)) check.fail('metadata.profiles', `unknown profile ${p}`);
  for (const [profile, at] of check.usedProfiles) {
    if (!declared.has(profile)) check.fail(at, `comes from the ${profile} profile, which metadata.profiles does not declare`);
  }
  return check.errors;
}
