/**
 * The kube-scheduler extender v1 wire forms (k8s.io/kube-scheduler/extender/v1),
 * checked exactly. One definition for the extender's tests and the fuzzing:
 * each returns what is wrong with an answer, or undefined when it is in form.
 */

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const FILTER_KEYS = 'Error,FailedAndUnresolvableNodes,FailedNodes,NodeNames,Nodes';

/** ExtenderFilterResult: the five Go field names, each of its type; node names listed once. */
export function filterFormProblem(j: unknown): string | undefined {
  if (!isMap(j)) return 'not an object';
  if (Object.keys(j).sort().join() !== FILTER_KEYS) return `keys ${Object.keys(j).sort().join()}, want ${FILTER_KEYS}`;
  if (typeof j.Error !== 'string') return 'Error is not a string';
  for (const k of ['FailedNodes', 'FailedAndUnresolvableNodes']) {
    const m = j[k];
    if (!isMap(m) || !Object.values(m).every((v) => typeof v === 'string')) return `${k} is not a map of strings`;
  }
  const names = j.NodeNames;
  if (names !== null && !(Array.isArray(names) && names.every((n) => typeof n === 'string'))) return 'NodeNames is not null or an array of strings';
  if (Array.isArray(names) && new Set(names).size !== names.length) return 'a name in NodeNames twice';
  if (j.Nodes !== null && !(isMap(j.Nodes) && (j.Nodes.items === undefined || j.Nodes.items === null || Array.isArray(j.Nodes.items)))) return 'Nodes is not null or a NodeList';
  if (j.Error === '' && names === null && j.Nodes === null) return 'neither NodeNames nor Nodes in an answer without Error';
  return undefined;
}

/** HostPriorityList: a bare array of {Host, Score}, integer scores 0–10, each host once. */
export function priorityFormProblem(j: unknown): string | undefined {
  if (!Array.isArray(j)) return 'not a bare array';
  for (const e of j) {
    if (!isMap(e) || Object.keys(e).sort().join() !== 'Host,Score') return `entry ${JSON.stringify(e)} is not {Host, Score}`;
    if (typeof e.Host !== 'string') return `Host ${JSON.stringify(e.Host)} is not a string`;
    if (!(Number.isInteger(e.Score) && (e.Score as number) >= 0 && (e.Score as number) <= 10)) return `Score ${JSON.stringify(e.Score)} is not an integer 0–10`;
  }
  if (new Set(j.map((e) => (e as { Host: string }).Host)).size !== j.length) return 'a host listed twice';
  return undefined;
}
