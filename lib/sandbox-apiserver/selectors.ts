/**
 * Label selectors (`a=b,c!=d,e in (x,y),!f,g`) and field selectors
 * (`metadata.name=foo,status.phase!=Running`), as the real server parses them.
 */
import { badRequest } from './errors.js';
import { RESOURCES, type ResourceName } from './resources.js';
import type { KubeObject } from './types.js';

type Op = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

export type LabelSelector = Requirement[];

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseError(detail: string): never {
  throw badRequest(`unable to parse requirement: ${detail}`);
}

function checkKey(k: string): string {
  if (!KEY_RE.test(k) || k.length > 317) parseError(`invalid label key "${k}"`);
  return k;
}

function checkValue(v: string): string {
  if (!VALUE_RE.test(v) || v.length > 63) parseError(`invalid label value: "${v}"`);
  return v;
}

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseLabelSelector(text: string | undefined | null): LabelSelector {
  const s = (text ?? '').trim();
  if (s === '') return [];
  const reqs: Requirement[] = [];
  for (const raw of splitTop(s)) {
    const part = raw.trim();
    if (part === '') parseError('found \'\', expected: !, identifier, or \'end of string\'');
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([^\s=!<>(),]+)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]), op: '!exists', values: [] });
    } else if ((m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part))) {
      const values = m[3].split(',').map((v) => checkValue(v.trim()));
      reqs.push({ key: checkKey(m[1]), op: m[2] as Op, values });
    } else if ((m = /^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/.exec(part))) {
      const op: Op = m[2] === '!=' ? '!=' : m[2] === '>' ? 'gt' : m[2] === '<' ? 'lt' : '=';
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(m[3])) parseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key: checkKey(m[1]), op, values: [checkValue(m[3])] });
    } else if ((m = /^([^\s=!<>(),]+)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]), op: 'exists', values: [] });
    } else {
      parseError(`invalid requirement "${part}"`);
    }
  }
  return reqs;
}

export function matchesLabels(sel: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const r of sel) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = has ? l[r.key] : undefined;
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case '=':
      case 'in':
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case '!=':
      case 'notin':
        if (has && r.values.includes(v as string)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const n = Number(v);
        if (r.op === 'gt' ? !(n > Number(r.values[0])) : !(n < Number(r.values[0]))) return false;
        break;
      }
    }
  }
  return true;
}

/** True if every key=value of a service selector is in the labels. */
export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector)) if (l[k] !== v) return false;
  return true;
}

// ---------------------------------------------------------------------------
// field selectors
// ---------------------------------------------------------------------------

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export type FieldSelector = FieldRequirement[];

export function parseFieldSelector(text: string | undefined | null, resource: ResourceName): FieldSelector {
  const s = (text ?? '').trim();
  if (s === '') return [];
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...RESOURCES[resource].fieldLabels]);
  const out: FieldRequirement[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1].trim();
    if (!allowed.has(field)) throw badRequest(`field label not supported: ${field}`);
    out.push({ field, op: m[2] === '!=' ? '!=' : '=', value: m[3].trim() });
  }
  return out;
}

function fieldValue(obj: KubeObject, field: string): string {
  let cur: unknown = obj;
  for (const part of field.split('.')) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

export function matchesFields(sel: FieldSelector, obj: KubeObject): boolean {
  for (const r of sel) {
    const v = fieldValue(obj, r.field);
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

export interface Selectors {
  labels: LabelSelector;
  fields: FieldSelector;
}

export function matches(sel: Selectors, obj: KubeObject): boolean {
  return matchesLabels(sel.labels, obj.metadata.labels) && matchesFields(sel.fields, obj);
}

export const EVERYTHING: Selectors = { labels: [], fields: [] };
