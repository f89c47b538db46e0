// A program written against the client generated from the spec (openapi-typescript +
// openapi-fetch), compiled with strict `tsc`, run against a live server: sign in,
// create a tenant, earn, spend, read the balance, and read an error envelope's `code`.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type ErrorCode = components["schemas"]["ErrorInfo"]["code"];

const baseUrl = process.env.SHOPOPS_URL;
const rootPassword = process.env.SHOPOPS_ROOT_PASSWORD;
if (!baseUrl || !rootPassword) {
  throw new Error("set SHOPOPS_URL and SHOPOPS_ROOT_PASSWORD");
}
const client = createClient<paths>({ baseUrl });

function bearer(token: string) {
  return { Authorization: `Bearer ${token}` };
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(`${what} failed`);
  }
  return value;
}

async function main(): Promise<void> {
  const root = must(
    (await client.POST("/api/v1/auth/login", { body: { username: "root", password: rootPassword ?? "" } })).data,
    "root sign-in",
  );
  const code = `ts-${Date.now()}`;
  must(
    (
      await client.POST("/api/v1/tenants", {
        headers: bearer(root.access_token),
        body: { code, name: "TypeScript client", admin: { username: "admin", password: "Client-Admin-2026" } },
      })
    ).data,
    "tenant creation",
  );
  const admin = must(
    (await client.POST("/api/v1/auth/login", { body: { tenant: code, username: "admin", password: "Client-Admin-2026" } })).data,
    "admin sign-in",
  );
  const headers = bearer(admin.access_token);
  const earned = must(
    (
      await client.POST("/api/v1/points/earn", {
        headers,
        body: { member_id: "m-1", points_amount: 100, category: "payment", reason: "order 1" },
      })
    ).data,
    "earn",
  );
  const spent = must(
    (await client.POST("/api/v1/points/spend", { headers, body: { member_id: "m-1", points_amount: 30 } })).data,
    "spend",
  );
  const profile = must(
    (
      await client.GET("/api/v1/points/profiles/{member_id}", {
        headers,
        params: { path: { member_id: "m-1" } },
      })
    ).data,
    "balance",
  );
  const refused = await client.POST("/api/v1/points/spend", {
    headers,
    body: { member_id: "m-1", points_amount: 1000 },
  });
  const errorCode: ErrorCode | undefined = refused.error?.error.code;
  if (earned.balance_after !== 100 || spent.balance_after !== 70 || profile.total_points !== 70) {
    throw new Error(`unexpected balances: ${earned.balance_after} ${spent.balance_after} ${profile.total_points}`);
  }
  if (refused.response.status !== 409 || errorCode !== "INSUFFICIENT_POINTS") {
    throw new Error(`expected 409 INSUFFICIENT_POINTS, got ${refused.response.status} ${errorCode}`);
  }
  console.log(`typescript client: earn → ${earned.balance_after}, spend → ${spent.balance_after}, balance ${profile.total_points}, refusal ${errorCode}`);
}

await main();
