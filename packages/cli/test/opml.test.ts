/** OPML round trip through the real CLI: import, export, import the export into a fresh database, export again. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { parseOpml } from "../src/opml.ts";
import { runCli } from "./helpers.ts";

const newsfeed = (db: TestDatabase, args: string[]) => runCli(args, { DATABASE_URL: db.url });

let first: TestDatabase;
let second: TestDatabase;
let dir: string;
beforeAll(async () => {
  [first, second] = await Promise.all([createTestDatabase("nf_cli_opml_a"), createTestDatabase("nf_cli_opml_b")]);
  dir = await mkdtemp(join(tmpdir(), "nf-opml-rt-"));
});
afterAll(async () => {
  await Promise.all([first?.drop(), second?.drop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What an operator's reader exports: a BOM, folders, entities, non-ASCII titles, duplicates, one non-feed URL. */
const SOURCE = `\ufeff<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My reader</title></head>
  <body>
    <outline text="World">
      <outline text="Le Monde — International" type="rss" xmlUrl="https://lemonde.example/international/rss_full.xml"/>
      <outline text="Asia">
        <outline text="日本語ニュース" xmlUrl="https://nihongo.example/feed"/>
      </outline>
    </outline>
    <outline text="Markets &amp; Money" title="Markets &amp; Money &lt;daily&gt;" xmlUrl="https://money.example/rss?section=markets&amp;format=full"/>
    <outline text="https://untitled.example/atom.xml" xmlUrl="https://untitled.example/atom.xml"/>
    <outline text="Tech">
      <outline text="Ελληνικά &quot;νέα&quot;" xmlUrl="https://greek.example/rss"/>
      <outline text="Le Monde again" xmlUrl="https://lemonde.example/international/rss_full.xml"/>
      <outline text="Same feed, another spelling" xmlUrl="HTTPS://GREEK.example/rss"/>
    </outline>
    <outline text="Local file" xmlUrl="file:///etc/passwd"/>
  </body>
</opml>
`;

const FEEDS = [
  { url: "https://lemonde.example/international/rss_full.xml", title: "Le Monde — International" },
  { url: "https://nihongo.example/feed", title: "日本語ニュース" },
  { url: "https://money.example/rss?section=markets&format=full", title: "Markets & Money <daily>" },
  { url: "https://untitled.example/atom.xml", title: null },
  { url: "https://greek.example/rss", title: `Ελληνικά "νέα"` },
];

describe("feeds import and export", { timeout: 120_000 }, () => {
  it("give back the same feeds, and an export imported into a fresh database exports the same document", async () => {
    const source = join(dir, "source.opml");
    await writeFile(source, SOURCE);
    const imported = await newsfeed(first, ["feeds", "import", source, "--json"]);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual({
      file: source, feeds: 7, added: 5, existing: 0, duplicates: 1, skipped: ["file:///etc/passwd"],
    });

    const exported = await newsfeed(first, ["feeds", "export"]);
    expect(exported.code).toBe(0);
    expect(parseOpml(exported.stdout)).toEqual(FEEDS);

    const copy = join(dir, "export.opml");
    await writeFile(copy, exported.stdout);
    const reimported = await newsfeed(second, ["feeds", "import", copy]);
    expect(reimported.code).toBe(0);
    expect(reimported.stdout).toMatch(/5 feeds in .*export\.opml: 5 added, 0 already present, 0 skipped$/m);
    const again = await newsfeed(second, ["feeds", "export"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(exported.stdout);

    // Both databases hold the same feeds, titles included.
    const list = async (db: TestDatabase) =>
      (JSON.parse((await newsfeed(db, ["feeds", "list", "--json"])).stdout) as { url: string; title: string | null }[]).map((f) => ({
        url: f.url, title: f.title,
      }));
    expect(await list(first)).toEqual(FEEDS);
    expect(await list(second)).toEqual(FEEDS);

    // Importing the export where the feeds already are adds nothing.
    const twice = await newsfeed(first, ["feeds", "import", copy, "--json"]);
    expect(JSON.parse(twice.stdout)).toMatchObject({ feeds: 5, added: 0, existing: 5, duplicates: 0, skipped: [] });
  });

  it("refuses a file that is not OPML with a usage error", async () => {
    const rss = join(dir, "feed.rss");
    await writeFile(rss, `<rss version="2.0"><channel><title>x</title></channel></rss>`);
    const r = await newsfeed(first, ["feeds", "import", rss]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^newsfeed: .*feed\.rss: not an OPML document/);
  });
});
