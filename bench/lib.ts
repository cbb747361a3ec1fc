/** Shared bench plumbing: arguments, a scratch database and Redis prefix, synthetic articles. */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Redis } from "ioredis";
import pg from "pg";
import { ownedKeyPatterns } from "@newsfeed/jobs";

export function args<T extends Record<string, { type: "string"; default: string }>>(spec: T, usage: string) {
  try {
    return parseArgs({ options: { ...spec, help: { type: "boolean" as const } }, strict: true }).values as unknown as {
      [K in keyof T]: string;
    } & { help?: boolean };
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}

export function intOf(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number ≥ 1, got '${text}'`);
    process.exit(2);
  }
  return n;
}

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A scratch database URL (created by runMigrations) and its drop function. */
export function scratchDatabase(prefix: string): { url: string; drop(): Promise<void> } {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A seeded PRNG (mulberry32): benches are repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "bri", "del", "fan", "gor", "hul", "jin", "mar", "nes", "pol", "qua", "sto", "tur", "vek", "zan"];

/** A vocabulary of `n` pseudo-words. */
export function vocabulary(n: number, rand: () => number): string[] {
  const words = new Set<string>();
  while (words.size < n) {
    const k = 1 + Math.floor(rand() * 3);
    let w = "";
    for (let i = 0; i < k; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    words.add(w);
  }
  return [...words];
}

/** An article of `words` words in paragraphs of about 40 words. */
export function article(vocab: string[], words: number, rand: () => number): string[] {
  const paragraphs: string[] = [];
  let current: string[] = [];
  for (let i = 0; i < words; i++) {
    current.push(vocab[Math.floor(rand() * vocab.length)]!);
    if (current.length >= 40 || i === words - 1) {
      paragraphs.push(`${current.join(" ")}.`);
      current = [];
    }
  }
  return paragraphs;
}

/**
 * Deletes every key newsfeed writes under `prefix` (ownedKeyPatterns: the queues' keys live under
 * the `{prefix:q}` hash tag), and every other key that starts with it (an index prefix ending in
 * ':', the `${prefix}-noop` BullMQ prefix of bench/e2e.ts).
 */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  for (const match of [`${prefix}*`, ...ownedKeyPatterns(prefix)]) {
    for await (const keys of redis.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
  }
}
