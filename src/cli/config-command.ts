import { DEFAULTS, ENV_NAMES, loadConfigFile, pickConfig, type RawConfig, resolveServeConfig } from '../config.js';

const MASK = '********';

/** What an option stands at when nothing sets it and it has no plain default. */
const UNSET: Partial<Record<keyof typeof ENV_NAMES, string>> = {
  publicUrl: '(the listening address)',
  adminToken: '(generated on the first start)',
};

/**
 * A connection URL with its password (in the user part or a `password` parameter) masked. Odd URLs
 * (an `@` in the query, say) may lose more than the password, never less.
 */
export function maskUrlPassword(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value);
  if (!scheme) return value;
  const rest = value.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  const colon = at === -1 ? -1 : rest.slice(0, at).indexOf(':');
  const masked = colon === -1 ? rest : `${rest.slice(0, colon + 1)}${MASK}${rest.slice(at)}`;
  return `${scheme[0]}${masked}`.replace(/([?&](?:ssl)?password=)[^&#]*/gi, `$1${MASK}`);
}

const isSecret = (key: string) => /token|password|secret/i.test(key);
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface EffectiveOption {
  value: string;
  source: 'flag' | 'environment' | 'file' | 'default';
  flag: string;
  env: string;
}

/**
 * The configuration `serve` would run with, validated as `serve` validates it, each option with
 * where its value came from; secrets masked.
 */
export function effectiveConfig(flags: RawConfig & { config?: string }, env: NodeJS.ProcessEnv = process.env) {
  const file = loadConfigFile(flags.config, env);
  resolveServeConfig(flags, env, file?.values);
  const picked = pickConfig(flags, env, file?.values);
  const options = {} as Record<keyof typeof ENV_NAMES, EffectiveOption>;
  for (const key of Object.keys(ENV_NAMES) as (keyof typeof ENV_NAMES)[]) {
    const { value, source } = picked[key];
    const fallback = key in DEFAULTS ? String(DEFAULTS[key as keyof typeof DEFAULTS]) : (UNSET[key] ?? '(none)');
    const shown = value === undefined ? fallback : isSecret(key) ? MASK : maskUrlPassword(value);
    options[key] = { value: shown, source, flag: `--${kebab(key)}`, env: ENV_NAMES[key] };
  }
  return { file: file?.path ?? null, options };
}

/** The effective configuration as aligned lines: option, value, where it came from. */
export function formatConfig(config: ReturnType<typeof effectiveConfig>): string[] {
  const rows = Object.values(config.options).map((o) => {
    const from = o.source === 'flag' ? o.flag : o.source === 'environment' ? o.env : o.source;
    return [o.flag.slice(2), o.value, from] as const;
  });
  const width = (i: 0 | 1) => Math.max(...rows.map((r) => r[i].length));
  return [
    `configuration file: ${config.file ?? '(none)'}`,
    ...rows.map(([name, value, from]) => `${name.padEnd(width(0))}  ${value.padEnd(width(1))}  ${from}`),
  ];
}
