import { ValidationError, checkLabels, checkName, echo, keyField } from '../../domain';
import { bytesOf, cpuMillisOf, QuantityError } from './quantity';

/** The part of a v1.Node the extender reads. */
export interface NodeView {
  readonly name: string;
  /** status.allocatable; null when a value is missing or malformed (`problem` says which). */
  readonly allocCpuMillis: number | null;
  readonly allocMemBytes: number | null;
  readonly labels: Readonly<Record<string, string>>;
  /** Why this node cannot be used as sent (it is then failed with this reason). */
  readonly problem?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads one Node of a NodeList. A node without a usable name fails the whole
 * request (it could not be reported back); any other defect fails only that
 * node, with the reason naming the field.
 */
export function readNode(raw: unknown, field: string): NodeView {
  if (!isObj(raw)) throw new ValidationError(field, 'must be a v1.Node object');
  const meta = raw.metadata;
  const name = isObj(meta) ? meta.name : undefined;
  if (typeof name !== 'string' || name === '') throw new ValidationError(`${field}.metadata.name`, 'required');
  checkName(name, `${field}.metadata.name`);
  const labels: Record<string, string> = {};
  let problem: string | undefined;
  const rawLabels = (meta as Obj).labels;
  if (rawLabels !== undefined && rawLabels !== null) {
    if (!isObj(rawLabels)) problem = 'metadata.labels: must be an object';
    else {
      for (const [k, v] of Object.entries(rawLabels)) {
        if (typeof v === 'string') labels[k] = v;
        else problem ??= `${keyField('metadata.labels', k)}: must be a string`;
      }
      // Kubernetes' own label bounds (src/domain/names.ts): a node beyond them fails alone, the key named, not its value.
      if (!problem) {
        try {
          checkLabels(labels, 'metadata.labels');
        } catch (e) {
          if (!(e instanceof ValidationError)) throw e;
          problem = e.message;
        }
      }
    }
  }
  const status = raw.status;
  const alloc = isObj(status) ? status.allocatable : undefined;
  let allocCpu: number | null = null;
  let allocMem: number | null = null;
  if (!isObj(alloc)) problem ??= 'status.allocatable: required in full-Nodes mode';
  else {
    const read = (key: 'cpu' | 'memory'): number | null => {
      if (alloc[key] === undefined || alloc[key] === null) {
        problem ??= `status.allocatable.${key}: required`;
        return null;
      }
      try {
        const v = key === 'cpu' ? cpuMillisOf(alloc[key]) : bytesOf(alloc[key]);
        if (v < 0) throw new QuantityError(`must not be negative, got ${echo(alloc[key])}`);
        return v;
      } catch (e) {
        if (!(e instanceof QuantityError)) throw e;
        problem ??= `status.allocatable.${key}: ${e.message}`;
        return null;
      }
    };
    allocCpu = read('cpu');
    allocMem = read('memory');
  }
  return { name, allocCpuMillis: allocCpu, allocMemBytes: allocMem, labels, problem };
}
