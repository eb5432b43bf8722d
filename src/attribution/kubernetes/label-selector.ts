import type { LabelSelectorRecord } from './types';

/**
 * Label selector semantics of k8s.io/apimachinery/pkg/labels: every matchLabels
 * pair and every matchExpression must hold (AND). `NotIn` and `DoesNotExist` hold
 * for objects that lack the key. An empty selector selects everything — which is
 * what a NetworkPolicy's `podSelector: {}` means ("all pods of the namespace").
 */
export function selectorMatches(selector: LabelSelectorRecord, labels: Readonly<Record<string, string>>): boolean {
  if (!equalityMatches(selector.matchLabels, labels)) return false;
  for (const expression of selector.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, expression.key);
    const value = has ? labels[expression.key] : undefined;
    switch (expression.operator) {
      case 'In':
        if (!has || !expression.values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && expression.values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Every key=value of `required` is among `labels` (a Service selector, a matchLabels map). */
export function equalityMatches(required: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in required) {
    if (labels[key] !== required[key] || !Object.prototype.hasOwnProperty.call(labels, key)) return false;
  }
  return true;
}
