import { isMap, isScalar, parseDocument, visit } from 'yaml';

/**
 * The variables an orgs file reads secrets from: every `{ env: NAME }` in it (a map whose only key
 * is `env`, as ORGS_FILE's loader takes a reference), by the YAML parser, whatever the quoting,
 * flow or block style and comments. Empty for text that is not YAML: the loader says why, later.
 */
export function envReferences(text: string): Set<string> {
  const names = new Set<string>();
  try {
    visit(parseDocument(text), {
      Map(_, node) {
        if (!isMap(node) || node.items.length !== 1) return;
        const [pair] = node.items;
        if (isScalar(pair!.key) && pair!.key.value === 'env' && isScalar(pair!.value) && typeof pair!.value.value === 'string') names.add(pair!.value.value);
      },
    });
  } catch {
    /* not YAML */
  }
  return names;
}
