import assert from "node:assert/strict";
import {
  eventKey,
  isSecretMessage,
  matchesFilter,
  normalizeName,
  parseEventFilter,
  subjectOf,
} from "../src/coder.ts";
import { golden, userData, workspaceData } from "./helpers/stubs.ts";

Deno.test("names compare case-insensitively with whitespace collapsed", () => {
  assert.equal(normalizeName("  User   account\tCreated "), "user account created");
  const f = parseEventFilter("Workspace Created, USER ACCOUNT SUSPENDED,,");
  assert.ok(matchesFilter(f, "workspace  created"));
  assert.ok(matchesFilter(f, "User account suspended"));
  assert.ok(!matchesFilter(f, "Workspace Deleted"));
  assert.ok(matchesFilter(parseEventFilter("a, *"), "anything"));
  assert.ok(!matchesFilter(parseEventFilter(""), "anything"), "an empty list tracks nothing");
});

Deno.test("subject: data.owner, then data.user, then the recipient of self-addressed events, then labels", async () => {
  const created = await golden("TemplateWorkspaceCreated.json", { data: workspaceData("o@x.io") });
  assert.equal(subjectOf(created.payload)?.email, "o@x.io");
  const suspended = await golden("TemplateUserAccountSuspended.json", { data: userData("s@x.io") });
  assert.equal(subjectOf(suspended.payload)?.email, "s@x.io");
  const deleted = await golden("TemplateWorkspaceDeleted.json");
  assert.equal(subjectOf(deleted.payload)?.email, "bobby@coder.com");
  const accountDeleted = await golden("TemplateUserAccountDeleted.json");
  assert.deepEqual(subjectOf(accountDeleted.payload), { username: "bobby" });
  assert.equal(subjectOf((await golden("TemplateTemplateDeleted.json")).payload), undefined);
});

Deno.test("event key: equal for fan-out copies, different for different events", async () => {
  const data = userData("s@x.io");
  const a = await golden("TemplateUserAccountSuspended.json", { data, user_email: "a@x.io" });
  const b = await golden("TemplateUserAccountSuspended.json", {
    data,
    user_email: "b@x.io",
    user_id: "other",
    user_username: "b",
  });
  assert.equal(await eventKey(a.payload), await eventKey(b.payload));
  const c = await golden("TemplateUserAccountSuspended.json", { data: userData("t@x.io") });
  assert.notEqual(await eventKey(a.payload), await eventKey(c.payload));
  const d = await golden("TemplateUserAccountActivated.json", { data });
  assert.notEqual(await eventKey(a.payload), await eventKey(d.payload));
  // Build parameters do not make copies of one event look different.
  const w1 = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const w2 = await golden("TemplateWorkspaceCreated.json", {
    data: { ...workspaceData(), parameters: [] },
  });
  assert.equal(await eventKey(w1.payload), await eventKey(w2.payload));
  // Self-addressed events about different people are different events.
  const x = await golden("TemplateWorkspaceDeleted.json", { user_id: "u1" });
  const y = await golden("TemplateWorkspaceDeleted.json", { user_id: "u2" });
  assert.notEqual(await eventKey(x.payload), await eventKey(y.payload));
});

Deno.test("one-time passcodes are recognised by name or label", async () => {
  assert.ok(isSecretMessage((await golden("TemplateUserRequestedOneTimePasscode.json")).payload));
  const renamed = await golden("TemplateUserRequestedOneTimePasscode.json", {
    notification_name: "Reset code",
  });
  assert.ok(isSecretMessage(renamed.payload));
  assert.ok(!isSecretMessage((await golden("TemplateWorkspaceDeleted.json")).payload));
});
