/** bench:sql's experiment: settings for the analyst's session, measured against the defaults. */

/** --analyst-settings "name=value,…": session settings (SET) for the analyst's connection. */
export function parseSettings(text: string): [name: string, value: string][] | string {
  const out: [string, string][] = [];
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z_][a-z0-9_.]*)\s*=\s*([A-Za-z0-9_.]+)$/.exec(part);
    if (!m) return `--analyst-settings: '${part}' is not name=value (letters, digits, _ and . only)`;
    out.push([m[1]!, m[2]!]);
  }
  return out.length ? out : "--analyst-settings: no name=value given";
}
