import { echo, ValidationError } from './errors';

/**
 * Bounds of the names a client sends, and how errors echo a client's value.
 *
 * Lengths are Kubernetes' own (k8s.io/apimachinery/pkg/util/validation):
 * a name or id is at most a DNS subdomain, 253 characters (DNS1123SubdomainMaxLength);
 * a label value at most 63 (LabelValueMaxLength); a label key is
 * `[prefix/]name` with the prefix a DNS subdomain (≤ 253) and the name ≤ 63
 * characters of [A-Za-z0-9-_.], beginning and ending alphanumeric
 * (IsQualifiedName). Node names, pod names, Nova host names and UUIDs all fit.
 */
export const MAX_NAME_CHARS = 253;
export const MAX_LABEL_VALUE_CHARS = 63;
export const MAX_LABEL_NAME_CHARS = 63;
/** Most entries of a workload's label selector. */
export const MAX_SELECTOR_ENTRIES = 64;
/** Most labels one host (or node) may carry. */
export const MAX_LABELS = 256;
/** Refuses a name or id longer than MAX_NAME_CHARS (empty is the caller's business). */
export function checkName(v: string, field: string, max = MAX_NAME_CHARS): string {
  if (v.length > max) throw new ValidationError(field, `at most ${max} characters, got ${v.length}`);
  return v;
}

const LABEL_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** Why `k` is not a Kubernetes label key, or undefined when it is one. */
export function labelKeyProblem(k: string): string | undefined {
  if (k === '') return 'must not be empty';
  const slash = k.indexOf('/');
  const name = slash < 0 ? k : k.slice(slash + 1);
  if (slash >= 0) {
    const prefix = k.slice(0, slash);
    if (prefix.length === 0) return 'the prefix before "/" must not be empty';
    if (prefix.length > MAX_NAME_CHARS) return `the prefix before "/" must be at most ${MAX_NAME_CHARS} characters, got ${prefix.length}`;
    if (!DNS_SUBDOMAIN.test(prefix)) return 'the prefix before "/" must be a DNS subdomain (lower-case alphanumerics, "-" and ".")';
  }
  if (name.length === 0) return 'the name must not be empty';
  if (name.length > MAX_LABEL_NAME_CHARS) return `the name must be at most ${MAX_LABEL_NAME_CHARS} characters, got ${name.length}`;
  if (!LABEL_NAME.test(name)) return 'the name must be alphanumerics, "-", "_" or ".", beginning and ending with an alphanumeric';
  return undefined;
}

/** Why `v` is not an acceptable label value, or undefined (only its length is bounded). */
export function labelValueProblem(v: string): string | undefined {
  return v.length > MAX_LABEL_VALUE_CHARS ? `at most ${MAX_LABEL_VALUE_CHARS} characters, got ${v.length}` : undefined;
}

/**
 * The field of one entry of a map a client sends (labels, annotations): a
 * Kubernetes label key as it is (`labels[app]`), any other key JSON-quoted and
 * cut by echo() (`annotations["]"]`), so a client's key can neither end the
 * path nor make it long.
 */
export function keyField(field: string, key: string): string {
  return `${field}[${labelKeyProblem(key) ? echo(key) : key}]`;
}

/**
 * Checks a label map (host labels, a selector): at most `maxEntries` entries,
 * Kubernetes label keys, values of at most 63 characters. An invalid key is
 * named in the message (echo()), a bad value by its key in the field (keyField).
 */
export function checkLabels(m: Readonly<Record<string, string>>, field: string, maxEntries = MAX_LABELS): void {
  const keys = Object.keys(m);
  if (keys.length > maxEntries) throw new ValidationError(field, `at most ${maxEntries} entries, got ${keys.length}`);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const kp = labelKeyProblem(k);
    if (kp) throw new ValidationError(field, `key ${echo(k)} is not a valid label key: ${kp}`);
    const v = m[k];
    if (typeof v !== 'string') throw new ValidationError(keyField(field, k), 'must be a string');
    const vp = labelValueProblem(v);
    if (vp) throw new ValidationError(keyField(field, k), `value ${vp}`);
  }
}
