/**
 * The console in a real Chromium (Debian's package, driven by playwright-core): sign-in, every
 * page, a replay, pause and resume, a failed validation, a cross-origin form post, the OTP rule,
 * and axe-core on every page. Without /usr/bin/chromium the test is ignored and says why.
 * With CONSOLE_SCREENSHOTS=<dir> it also saves a PNG of each page there (docs/img).
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fs from "node:fs";
import type { Page } from "playwright-core";
import { ADMIN_TOKEN, adminCall, adminConfig } from "./helpers/admin.ts";
import { postWorkspaceCreated } from "./helpers/console.ts";
import { golden, startRelay, startStub, waitForDelivery } from "./helpers/stubs.ts";

const CHROMIUM = Deno.env.get("RELAY_TEST_CHROMIUM") ?? "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!hasChromium) {
  console.log(
    `console browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`,
  );
}
const SHOTS = Deno.env.get("CONSOLE_SCREENSHOTS");

/**
 * playwright-core asks at load time whether it runs under WSL by probing /proc paths, which Deno
 * only allows with --allow-all (not the README's test command): for that probe alone the answer
 * is "no" while the module loads.
 */
async function loadPlaywright() {
  const existsSync = fs.existsSync;
  fs.existsSync = (p) => String(p).startsWith("/proc/") ? false : existsSync(p);
  try {
    return (await import("playwright-core")).chromium;
  } finally {
    fs.existsSync = existsSync;
  }
}
const AXE = Deno.readTextFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"));

/** Runs axe-core on the page; fails on any serious or critical violation. */
async function axe(page: Page, what: string) {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline script.
  await page.evaluate(`${AXE}\n;0`);
  const result = await page.evaluate(
    `axe.run(document, { resultTypes: ["violations"] })`,
  ) as { violations: { id: string; impact: string; help: string; nodes: unknown[] }[] };
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help}`),
    [],
    `axe on ${what}`,
  );
}

async function shot(page: Page, name: string) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

Deno.test({
  name: "console in Chromium: sign-in, pages, replay, pause/resume, validation, CSRF, OTP, axe",
  ignore: !hasChromium,
  sanitizeOps: false, // playwright keeps a pipe to the browser that closes after the test body
  sanitizeResources: false,
  async fn(t) {
    let healthy = false;
    await using px = startStub(() =>
      healthy ? Response.json({ ok: true }) : new Response("down", { status: 503 })
    );
    await using slack = startStub(() => Response.json({ ok: true, channel: "D1", ts: "1.1" }));
    await using relay = await startRelay(adminConfig({
      GETDX_API_URL: px.url,
      RELAY_MAX_ATTEMPTS: "1",
      SLACK_BOT_TOKEN: "xoxb-test",
      SLACK_API_URL: slack.url,
    }));
    const failed = await postWorkspaceCreated(relay, "permanent_failure");
    healthy = true;
    const ok = await postWorkspaceCreated(relay, "sent", "two");
    const passcode = "271828-182845";
    const otpBase = await golden("TemplateUserRequestedOneTimePasscode.json");
    const otp = {
      ...otpBase,
      title: `Your code ${passcode}`,
      body: `Your one-time passcode is ${passcode}`,
      body_markdown: `Your one-time passcode is **${passcode}**`,
      payload: {
        ...otpBase.payload,
        labels: { ...otpBase.payload.labels, one_time_passcode: passcode },
      },
    };
    assert.equal((await relay.post(otp)).status, 202);

    // Another origin (another port on loopback) with a form that posts to the relay.
    await using evil = startStub(() =>
      new Response(
        `<!doctype html><html lang="en"><title>x</title><body>
<form id="f" method="post" action="${relay.url}/ui/destinations/pause">
<input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script></body></html>`,
        { headers: { "content-type": "text/html" } },
      )
    );

    const chromium = await loadPlaywright();
    const dir = await Deno.makeTempDir();
    const browser = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 800 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = browser.pages()[0] ?? await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        // A page answered 400/401/403 on purpose logs "Failed to load resource": not an error.
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          errors.push(`console: ${m.text()}`);
        }
      });
      page.on("response", (r) => {
        if (r.request().resourceType() !== "document" && r.status() >= 400) {
          errors.push(`${r.status()} for ${r.url()}`);
        }
      });
      const base = relay.url;
      page.setDefaultTimeout(10_000);

      await t.step(
        "sign-in: a wrong token shows an error; the right one opens Overview",
        async () => {
          await page.goto(`${base}/ui`);
          assert.match(page.url(), /\/ui\/login$/);
          await axe(page, "sign-in");
          await shot(page, "console-sign-in");
          await page.getByLabel("Admin token").fill("wrong-token");
          await page.getByRole("button", { name: "Sign in" }).click();
          assert.match(await page.getByRole("alert").innerText(), /Wrong admin token/);
          await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
          await page.getByRole("button", { name: "Sign in" }).click();
          await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
          assert.ok(!page.url().includes(ADMIN_TOKEN));
          const storage = await page.evaluate(
            "JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])",
          ) as string;
          assert.ok(!storage.includes(ADMIN_TOKEN), "token not in browser storage");
          assert.equal(await page.evaluate("document.cookie"), "", "the cookie is HttpOnly");
        },
      );

      await t.step("overview: per-destination figures and the chart", async () => {
        const chart = page.getByRole("img", { name: "Deliveries per minute, last 24 hours" });
        await chart.waitFor();
        assert.equal(await chart.evaluate((e) => e.tagName), "svg");
        const row = page.getByRole("row", { name: /platformx/ });
        assert.match(await row.innerText(), /platformx\s+platformx\s+enabled\s+0\s+1\s+1\s+1\s+1/);
        await axe(page, "overview");
        await shot(page, "console-overview");
      });

      await t.step("messages: filter, open a failed one, replay it", async () => {
        await page.getByRole("link", { name: "Messages" }).click();
        await page.getByRole("heading", { level: 1, name: "Messages" }).waitFor();
        await axe(page, "messages");
        await shot(page, "console-messages");
        await page.getByLabel("State").selectOption("permanent_failure");
        await page.getByLabel("Destination").selectOption("platformx");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/state=permanent_failure/);
        const links = page.getByRole("link", { name: failed.msg_id });
        assert.equal(await links.count(), 1);
        assert.equal(await page.getByRole("link", { name: ok.msg_id }).count(), 0);
        await links.click();
        await page.getByRole("heading", { level: 1, name: `Message ${failed.msg_id}` }).waitFor();
        assert.match(await page.locator("main").innerText(), /HTTP status[\s\S]*503/);
        await axe(page, "message detail");
        await shot(page, "console-message");
        await page.getByRole("button", { name: "Replay to platformx" }).click();
        assert.match(await page.getByRole("status").innerText(), /Replay queued: platformx/);
        await waitForDelivery(relay.app.store, failed.msg_id, "sent");
      });

      await t.step("OTP: no passcode in any console page", async () => {
        for (const path of ["/ui", "/ui/messages", `/ui/messages/${otp.msg_id}`]) {
          await page.goto(`${base}${path}`);
          assert.ok(!(await page.content()).includes(passcode), path);
          assert.ok(!(await page.content()).includes("271828"), path);
        }
      });

      await t.step("destinations: pause and resume one", async () => {
        await page.getByRole("link", { name: "Destinations" }).click();
        await page.getByRole("heading", { level: 1, name: "Destinations" }).waitFor();
        await axe(page, "destinations");
        await shot(page, "console-destinations");
        const row = page.getByRole("row", { name: /platformx/ });
        await row.getByRole("button", { name: "Pause" }).click();
        assert.match(await page.getByRole("status").innerText(), /Paused platformx/);
        assert.deepEqual(
          (await adminCall(base, "GET", "/api/v1/pause")).json.paused_destinations,
          ["platformx"],
        );
        await page.getByRole("row", { name: /platformx/ }).getByRole("button", { name: "Resume" })
          .click();
        assert.deepEqual(
          (await adminCall(base, "GET", "/api/v1/pause")).json.paused_destinations,
          [],
        );
      });

      await t.step(
        "destinations: a failed validation shows next to the field, then create",
        async () => {
          await page.getByRole("link", { name: "Add destination" }).click();
          await page.getByRole("heading", { level: 1, name: "Add destination" }).waitFor();
          await axe(page, "add destination");
          await page.getByLabel("Name (required)").fill("builds hook");
          await page.getByLabel("Type", { exact: true }).selectOption("webhook");
          // The other types' fieldsets are hidden by the page's script: only one url field is visible.
          await page.getByRole("textbox", { name: "url (required)" }).fill("not a url");
          await page.getByRole("button", { name: "Create" }).click();
          const url = page.getByRole("textbox", { name: "url (required)" });
          assert.equal(await url.getAttribute("aria-invalid"), "true");
          assert.match(await page.locator("#err-config-webhook-url").innerText(), /http\(s\) URL/);
          await axe(page, "form with errors");
          await shot(page, "console-destination-form");
          await url.fill(`${px.url}/hook`);
          await page.getByRole("button", { name: "Create" }).click();
          assert.match(await page.getByRole("status").innerText(), /Created builds hook/);
          const hooks = (await adminCall(base, "GET", "/api/v1/webhooks/")).json.results;
          assert.ok(hooks.some((h: { name: string }) => h.name === "builds hook"));
        },
      );

      await t.step("send test, and retry failed with confirmation and progress", async () => {
        const row = page.getByRole("row", { name: /platformx/ });
        await row.getByRole("button", { name: "Send test" }).click();
        assert.match(await page.getByRole("status").innerText(), /Test to platformx: sent/);
        healthy = false;
        const again = await postWorkspaceCreated(relay, "permanent_failure", "three");
        healthy = true;
        await page.getByRole("row", { name: /platformx/ }).getByRole("link", {
          name: "Retry failed",
        }).click();
        assert.match(await page.locator("main").innerText(), /1 failed deliveries/);
        await axe(page, "retry confirmation");
        await page.getByRole("button", { name: "Retry all failed deliveries" }).click();
        await page.getByRole("heading", { level: 1, name: "Retrying platformx" }).waitFor();
        assert.match(await page.getByRole("status").innerText(), /1 deliveries re-queued/);
        await waitForDelivery(relay.app.store, again.msg_id, "sent");
        // The page's script updates the progress in place until nothing waits.
        await page.getByRole("status").filter({ hasText: "done" }).waitFor();
        assert.equal(
          await page.locator("progress").evaluate((e) => (e as unknown as { value: number }).value),
          1,
        );
        await axe(page, "retry progress");
      });

      await t.step("a form posted from another origin changes nothing", async () => {
        await page.goto(evil.url);
        await page.waitForLoadState("load");
        await page.waitForURL(/\/ui\/destinations\/pause/);
        assert.match(await page.locator("body").innerText(), /Request refused/);
        assert.equal((await adminCall(base, "GET", "/api/v1/pause")).json.paused, false);
      });

      await t.step("sign out ends the session", async () => {
        await page.goto(`${base}/ui`);
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("button", { name: "Sign in" }).waitFor();
        await page.goto(`${base}/ui/messages`);
        assert.match(page.url(), /\/ui\/login$/);
      });

      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
