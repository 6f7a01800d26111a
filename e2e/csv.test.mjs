// The orders page's CSV export: downloaded by clicking the link (one line per booking
// position under a header), and the same file whether it travels gzip-compressed (what
// browsers ask for) or not.

import assert from "node:assert/strict";
import http from "node:http";
import zlib from "node:zlib";
import { BASE, e2e } from "./lib/harness.mjs";
import { book, organizerWithEvent } from "./lib/api.mjs";
import { signIn } from "./lib/web.mjs";

/** A raw GET (no automatic decompression): status, headers and the body's bytes as sent. */
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

function decode(res) {
  switch (res.headers["content-encoding"]) {
    case undefined:
    case "identity":
      return res.body;
    case "gzip":
      return zlib.gunzipSync(res.body);
    case "br":
      return zlib.brotliDecompressSync(res.body);
    case "deflate":
      return zlib.inflateSync(res.body);
    default:
      throw new Error(`unexpected content-encoding ${res.headers["content-encoding"]}`);
  }
}

e2e("CSV export: the download has a header and one line per booking position, compressed or not", async ({ t, newContext }) => {
  const { organizer, event, types } = await organizerWithEvent({
    types: [
      { name: "Seated", price: 0, capacity: 500 },
      { name: "Standing", price: 0, capacity: 500 },
    ],
  });
  const seated = types.Seated.id;
  const standing = types.Standing.id;
  const bookings = [
    await book(event.id, [{ ticket_type_id: seated, quantity: 2 }, { ticket_type_id: standing, quantity: 1 }], { name: "Ada, \"the\" Buyer" }),
    await book(event.id, [{ ticket_type_id: standing, quantity: 3 }], { name: "Bo Buyer" }),
    await book(event.id, [{ ticket_type_id: seated, quantity: 1 }], { name: "Cy Buyer" }),
  ];
  // Enough more that the streamed file spans many chunks (and many compressed blocks).
  for (let i = 0; i < 150; i += 25) {
    const batch = Array.from({ length: 25 }, (_, j) =>
      book(event.id, [{ ticket_type_id: seated, quantity: 1 }, { ticket_type_id: standing, quantity: 1 }], { name: `Bulk Buyer ${i + j}` }),
    );
    bookings.push(...(await Promise.all(batch)));
  }
  const positions = bookings.reduce((n, b) => n + b.positions.length, 0);
  assert.equal(positions, 4 + 300);

  const context = await newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, organizer, `/manage/events/${event.id}/orders`);
  await page.getByRole("heading", { level: 1, name: "Orders" }).waitFor();
  assert.equal(await page.locator("#orders tbody tr").count(), 50, "the orders page shows its first 50 bookings");
  await page.getByRole("link", { name: "More orders" }).waitFor();

  const link = page.locator("#csv-export");
  assert.equal(await link.getAttribute("href"), `/manage/events/${event.id}/orders.csv?`);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  assert.equal(await download.failure(), null, "the download completed");
  const stream = await download.createReadStream();
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const file = Buffer.concat(chunks).toString("utf8");
  assert.match(download.suggestedFilename(), /\.csv$/);

  const lines = file.replace(/\r?\n$/, "").split(/\r?\n/);
  assert.match(lines[0], /^booking_code,status,buyer_name,buyer_email,ticket_type,quantity,/, "a header line first");
  assert.equal(lines.length, 1 + positions, `a header and one line per position:\n${file}`);
  const byCode = new Map();
  for (const l of lines.slice(1)) byCode.set(l.slice(0, l.indexOf(",")), (byCode.get(l.slice(0, l.indexOf(","))) || 0) + 1);
  for (const b of bookings) assert.equal(byCode.get(b.code), b.positions.length, `booking ${b.code} has one line per position`);
  assert.ok(file.includes('"Ada, ""the"" Buyer"'), "a name with a comma and quotes is quoted CSV-style");

  // The same request as the browser's, with its session cookie, asked for gzip and for nothing.
  const cookie = (await context.cookies(BASE)).map((c) => `${c.name}=${c.value}`).join("; ");
  const url = `${BASE}/manage/events/${event.id}/orders.csv`;
  const gzip = await rawGet(url, { cookie, "accept-encoding": "gzip" });
  const plain = await rawGet(url, { cookie, "accept-encoding": "identity" });
  assert.equal(gzip.status, 200);
  assert.equal(plain.status, 200);
  assert.match(String(gzip.headers["content-type"]), /^text\/csv/);
  // Compressed or not is the server's choice; either way it must be the whole file.
  assert.ok([undefined, "gzip"].includes(gzip.headers["content-encoding"]), `answered in ${gzip.headers["content-encoding"]}`);
  t.diagnostic(`CSV with Accept-Encoding gzip: ${gzip.headers["content-encoding"] || "uncompressed"}, ${gzip.body.length} bytes for ${file.length}`);
  assert.equal(decode(gzip).toString("utf8"), file, "the answer to a gzip-accepting client decodes to the downloaded file");
  assert.equal(decode(plain).toString("utf8"), file, "the uncompressed answer is the downloaded file");
});
