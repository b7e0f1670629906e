import { PASS, type FilterPlugin } from '../../types';

/** Label selector: every key of the workload's selector must be on the host with exactly that value. */
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
    const has = host.labels[k];
    return has === undefined
      ? `label selector ${k}=${d.selectorValues[code - 1]}: host has no label ${k}`
      : `label selector ${k}=${d.selectorValues[code - 1]}: host has ${k}=${has}`;
  },
};
