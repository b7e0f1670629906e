import { PASS, type FilterPlugin } from '../../types';

/**
 * Label selector: every key of the workload's selector must be on the host with exactly that value.
 * A rejection names the unmet key only, never a value: the reason is repeated for every
 * rejected host, and a value is the caller's own (it knows it) or the host's (not the caller's business).
 */
export const labelsFilter: FilterPlugin = {
  name: 'Labels',
  filter(d, host) {
    const keys = d.selectorKeys;
    for (let i = 0; i < keys.length; i++) {
      if (host.labels[keys[i]] !== d.selectorValues[i]) return i + 1;
    }
    return PASS;
  },
  explain(code, d, host) {
    const k = d.selectorKeys[code - 1];
    return host.labels[k] === undefined ? `label selector: host has no label ${k}` : `label selector: host's label ${k} has another value`;
  },
};
