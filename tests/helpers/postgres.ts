/**
 * Test helpers for the PostgreSQL store: the database under test comes from
 * `RELAY_TEST_POSTGRES_URL` (`scripts/pg-test-cluster.sh start` prints it), and every test gets a
 * schema of its own, so tests never see each other's rows and each one runs the migrations afresh.
 *
 * @module
 */
import postgres from "postgres";

/** The test database, or undefined when none is configured (the Postgres tests then skip). */
export const TEST_POSTGRES_URL = Deno.env.get("RELAY_TEST_POSTGRES_URL") || undefined;

/** A fresh schema in the test database; disposing drops it with everything in it. */
export interface TestSchema extends AsyncDisposable {
  /** A `RELAY_STORE` URL whose `search_path` is this schema. */
  readonly url: string;
  readonly name: string;
}

/** Creates an empty schema in the database at `baseUrl`. */
export async function createTestSchema(baseUrl: string): Promise<TestSchema> {
  const name = `relay_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const url = `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}search_path=${name}`;
  return {
    url,
    name,
    async [Symbol.asyncDispose]() {
      const sql = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP SCHEMA ${name} CASCADE`);
      } finally {
        await sql.end();
      }
    },
  };
}
