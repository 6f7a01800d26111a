// Accessibility checks with axe-core: a page fails on any violation of impact "serious" or
// "critical"; the report names each rule, why it matters, and the elements that break it.

import { AxeBuilder } from "@axe-core/playwright";

const BLOCKING = new Set(["serious", "critical"]);

/** The serious and critical violations on `page`, and a readable report of them. */
export async function axeViolations(page, label) {
  const results = await new AxeBuilder({ page }).analyze();
  const blocking = results.violations.filter((v) => BLOCKING.has(v.impact));
  const lines = [];
  for (const v of blocking) {
    lines.push(`  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
    for (const node of v.nodes.slice(0, 8)) {
      lines.push(`      at ${node.target.join(" ")}`);
      const why = (node.failureSummary || "").split("\n").map((s) => s.trim()).filter(Boolean).slice(0, 3).join("; ");
      if (why) lines.push(`         ${why}`);
    }
    if (v.nodes.length > 8) lines.push(`      … and ${v.nodes.length - 8} more`);
  }
  const minor = results.violations.filter((v) => !BLOCKING.has(v.impact)).map((v) => `${v.id} (${v.impact})`);
  const report = blocking.length
    ? `${label} (${page.url()}): ${blocking.length} serious/critical accessibility violation(s):\n${lines.join("\n")}`
    : "";
  return { blocking, minor, report };
}
