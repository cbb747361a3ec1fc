import { describe, expect, it } from "vitest";
import { IngestError } from "../errors.ts";
import { joinBase } from "./base.ts";
import { MAX_DEPTH, repairXml } from "./repair.ts";

const rss = (items: string, channel = "") => `<rss version="2.0"><channel>${channel}${items}</channel></rss>`;
const xmlOf = (text: string) => repairXml(text).xml;

describe("repairXml", () => {
  it.each([
    { name: "whitespace before <?xml", input: `\n\n  <?xml version="1.0"?>${rss("<item><title>a</title></item>")}`, want: rss("<item><title>a</title></item>") },
    { name: "a server warning before <?xml", input: `<b>Warning</b>: headers sent<br/>\n<?xml version="1.0"?>${rss("")}`, want: rss("") },
    { name: "comments, PIs and the declaration", input: `<!-- c --><?xml version="1.0"?><?xml-stylesheet href="x"?>${rss("<!-- c -->")}`, want: rss("") },
    { name: "a bare &", input: rss("<item><title>Q&A & more</title></item>"), want: rss("<item><title>Q&amp;A &amp; more</title></item>") },
    { name: "a bare & in a URL", input: rss("<item><link>http://x/?a=1&b=2&c</link></item>"), want: rss("<item><link>http://x/?a=1&amp;b=2&amp;c</link></item>") },
    { name: "HTML named entities become numeric", input: rss("<item><title>caf&eacute;&nbsp;&hellip;</title></item>"), want: rss("<item><title>caf&#233;&#160;&#8230;</title></item>") },
    { name: "XML entities stay", input: rss("<item><title>&lt;&amp;&gt;&quot;&apos;</title></item>"), want: rss("<item><title>&lt;&amp;&gt;&quot;&apos;</title></item>") },
    { name: "an unknown entity is kept as text", input: rss("<item><title>&bogus;</title></item>"), want: rss("<item><title>&amp;bogus;</title></item>") },
    { name: "&#X41; and &#150; read as HTML reads them", input: rss("<item><title>&#X41;&#150;&#38</title></item>"), want: rss("<item><title>&#65;&#8211;&#38;</title></item>") },
    { name: "references to invalid characters go", input: rss("<item><title>a&#0;b&#x1F;c</title></item>"), want: rss("<item><title>abc</title></item>") },
    { name: "invalid characters go, C1 controls become windows-1252", input: rss("<item><title>a\u0000b\u000Bc\u0092d</title></item>"), want: rss("<item><title>abc\u2019d</title></item>") },
    { name: "CDATA becomes escaped text", input: rss("<item><description><![CDATA[<p>x & y</p>]]></description></item>"), want: rss("<item><description>&lt;p&gt;x &amp; y&lt;/p&gt;</description></item>") },
    { name: "a stray <", input: rss("<item><title>1 < 2</title></item>"), want: rss("<item><title>1 &lt; 2</title></item>") },
    { name: "attribute repairs", input: `<feed><link href=http://x/a?b=1&c=2 rel = 'alternate' async/></feed>`, want: `<feed nf=""><link href="http://x/a?b=1&amp;c=2" rel="alternate" async=""/></feed>` },
    { name: "a missing end quote stops at >", input: `<feed><link href="http://x/>t</link></feed>`, want: `<feed nf=""><link href="http://x/">t</link></feed>` },
    { name: "a > inside a quoted value", input: `<feed><link title="a>b" href="x"/></feed>`, want: `<feed nf=""><link title="a>b" href="x"/></feed>` },
    { name: "a duplicate attribute", input: `<feed><link href="a" href="b"/></feed>`, want: `<feed nf=""><link href="a"/></feed>` },
    { name: "an Atom link without attributes gets one", input: `<feed><entry><link>http://x/1</link></entry></feed>`, want: `<feed nf=""><entry><link nf="">http://x/1</link></entry></feed>` },
    { name: "end tags close elements left open", input: rss("<item><title>a</item>"), want: rss("<item><title>a</title></item>") },
    { name: "stray end tags go", input: rss("<item><title>a</title></b></item>"), want: rss("<item><title>a</title></item>") },
    { name: "an unterminated end tag at the end", input: `${rss("<item><title>a</title></item>").slice(0, -1)}`, want: rss("<item><title>a</title></item>") },
    { name: "a truncated tail drops the unfinished item", input: rss("<item><title>a</title></item><item><title>b</ti").slice(0, -16), want: rss("<item><title>a</title></item>") },
    { name: "truncated inside an attribute", input: `<rss version="2.0"><channel><item><title>a</title></item><item><link href="htt`, want: rss("<item><title>a</title></item>") },
    { name: "truncated inside CDATA", input: `<rss version="2.0"><channel><item><title>a</title></item><item><title><![CDATA[b`, want: rss("<item><title>a</title></item>") },
    { name: "text after the root goes", input: `${rss("")}junk<rss>more</rss>`, want: rss("") },
    { name: "<rss> without <channel> gets one", input: `<rss><item><title>a</title></item></rss>`, want: `<rss nf=""><channel><item><title>a</title></item></channel></rss>` },
    { name: "<rdf:RDF> without <channel> gets an empty one", input: `<rdf:RDF x="1"><item><title>a</title></item></rdf:RDF>`, want: `<rdf:RDF x="1"><channel></channel><item><title>a</title></item></rdf:RDF>` },
    { name: "an Atom xhtml title reads as text", input: `<feed><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Example <b>test</b> &amp; co</div></title></entry></feed>`, want: `<feed nf=""><entry><title type="xhtml">Example test &amp; co</title></entry></feed>` },
    { name: "an RSS title with markup reads as text", input: rss("<item><title>Hello <em>world</em></title></item>"), want: rss("<item><title>Hello world</title></item>") },
    { name: "Atom xhtml content keeps its markup, escaped", input: `<feed><entry><content type="xhtml"><div><p>a&amp;b</p></div></content></entry></feed>`, want: `<feed nf=""><entry><content type="xhtml">&lt;div&gt;&lt;p&gt;a&amp;amp;b&lt;/p&gt;&lt;/div&gt;</content></entry></feed>` },
    { name: "raw HTML in a description, with void elements", input: rss("<item><description>a<br>b<img src=x>c</description></item>"), want: rss(`<item><description>a&lt;br/&gt;b&lt;img src="x"/&gt;c</description></item>`) },
    { name: "item and entry dates are renamed", input: `<feed><entry><published>p</published><updated>u</updated></entry><updated>f</updated></feed>`, want: `<feed nf=""><entry><nf:published>p</nf:published><nf:updated>u</nf:updated></entry><updated>f</updated></feed>` },
    { name: "RSS item dates are renamed", input: rss("<item><pubDate>p</pubDate><dc:date>d</dc:date></item>"), want: rss("<item><nf:pubDate>p</nf:pubDate><nf:dcdate>d</nf:dcdate></item>") },
    { name: "xml:base is injected into channel and items", input: `<rss xml:base="http://x/a/"><channel><item xml:base="b/"><title>t</title></item></channel></rss>`, want: `<rss xml:base="http://x/a/"><channel><nf:base>http://x/a/</nf:base><item xml:base="b/"><nf:base>http://x/a/b/</nf:base><title>t</title></item></channel></rss>` },
    { name: "an internal entity is expanded", input: `<!DOCTYPE rss [<!ENTITY id "tag:x,">]><rss><channel><item><guid>&id;1</guid></item></channel></rss>`, want: `<rss nf=""><channel><item><guid>tag:x,1</guid></item></channel></rss>` },
  ])("$name", ({ input, want }) => {
    expect(xmlOf(input)).toBe(want);
  });

  it("reports the root element, or null when there is none", () => {
    expect(repairXml(rss("")).root).toBe("rss");
    expect(repairXml("just text").root).toBeNull();
    expect(repairXml("").root).toBeNull();
  });

  it("refuses expansion past 1,000,000 characters (the quadratic blowup) as unsafe_xml", () => {
    const big = "x".repeat(4000);
    const doc = (refs: number) => `<!DOCTYPE r [<!ENTITY e "${big}">]><rss><channel><title>${"&e;".repeat(refs)}</title></channel></rss>`;
    expect(repairXml(doc(250)).xml.length).toBeGreaterThan(1_000_000);
    expect(() => repairXml(doc(251))).toThrow(expect.objectContaining({ code: "unsafe_xml", message: expect.stringMatching(/entity expansion over 1,000,000/) }));
  });

  it.each([
    { name: "an external entity (XXE)", subset: `<!ENTITY x SYSTEM "file:///etc/passwd">`, why: /external entity \(x SYSTEM\)/ },
    { name: "a public external entity", subset: `<!ENTITY x PUBLIC "-//X//Y" "http://169.254.169.254/">`, why: /external entity \(x PUBLIC\)/ },
    { name: "an external parameter entity", subset: `<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;`, why: /external parameter entity \(%p SYSTEM\)/ },
    { name: "an entity naming another (billion laughs)", subset: `<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;">`, why: /b uses &a;/ },
    { name: "a parameter entity naming another", subset: `<!ENTITY % a "ha"><!ENTITY % b "%a;%a;">`, why: /b uses %a;/ },
  ])("refuses a DOCTYPE that declares $name as unsafe_xml", ({ subset, why }) => {
    const doc = `<!DOCTYPE rss [${subset}]><rss><channel><title>t</title></channel></rss>`;
    expect(() => repairXml(doc)).toThrow(expect.objectContaining({ code: "unsafe_xml", message: expect.stringMatching(why) }));
  });

  it.each([
    { name: "an external DTD (RSS 0.91)", doctype: `<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">` },
    { name: "the W3C's XHTML entity sets", doctype: `<!DOCTYPE rss [<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent"> %HTMLlat1;]>` },
    { name: "character references in an entity", doctype: `<!DOCTYPE rss [<!ENTITY c "&#169;&#x2014;">]>` },
  ])("accepts $name, and fetches nothing", ({ doctype }) => {
    expect(repairXml(`${doctype}<rss><channel><title>t&nbsp;</title></channel></rss>`).xml).toBe(`<rss nf=""><channel><title>t&#160;</title></channel></rss>`);
  });

  it("refuses nesting deeper than MAX_DEPTH outside text elements", () => {
    expect(() => repairXml(`<rss>${"<a>".repeat(MAX_DEPTH + 1)}</rss>`)).toThrowError(IngestError);
    expect(() => repairXml(`<rss>${"<a>".repeat(MAX_DEPTH + 1)}</rss>`)).toThrow(/nested deeper/);
  });

  it("keeps the text of markup nested too deep inside a text element", () => {
    const { xml } = repairXml(rss(`<item><title>t</title><description>${"<div>".repeat(MAX_DEPTH * 4)}deep</description></item>`));
    expect(xml).toMatch(/deep(&lt;\/div&gt;)+<\/description><\/item><\/channel><\/rss>$/);
  });

  it("stays linear on hostile input", () => {
    // Each of these made a naive repair loop quadratic; 1 MB each must take well under the test timeout.
    for (const input of [
      `<rss><channel>${"<item a='x>".repeat(100_000)}</channel></rss>`,
      `<rss><channel>${"</a".repeat(200_000)}</channel></rss>`,
      `${"<!DOCTYPE x".repeat(100_000)}<rss/>`,
      `<rss><channel><title>${"&".repeat(300_000)}</title></channel></rss>`,
    ]) {
      try {
        repairXml(input);
      } catch (err) {
        expect(err).toBeInstanceOf(IngestError);
      }
    }
  });
});

describe("joinBase", () => {
  it.each([
    [null, "http://x/a/", "http://x/a/"],
    ["http://x/a/", "b/", "http://x/a/b/"],
    ["http://x/a/b/", "../", "http://x/a/"],
    ["http://x/a/", "http://y/", "http://y/"],
    ["http://x/a/", "javascript:alert(1)", "http://x/a/"],
    [null, "sub/", "sub/"],
    ["sub/", "deeper/", "sub/deeper/"],
    ["/root/", "deeper/", "/root/deeper/"],
    ["http://x/", "http:///x.example/test/", "http://x.example/test/"],
  ])("%s + %s → %s", (outer, value, want) => {
    expect(joinBase(outer, value)).toBe(want);
  });
});
